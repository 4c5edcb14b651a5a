import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http2, { type ClientHttp2Session, type Http2SecureServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { tempDir } from './helpers.ts';

/** PEM files of a test certificate authority and what it signed. */
export interface Certificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/**
 * A CA (its name `name`) with a server certificate for 127.0.0.1 / localhost
 * and a client certificate, made by `openssl` in a temporary directory.
 */
export function makeCertificates(name: string): Certificates {
  const dir = tempDir(`bizon-${name}-`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const sign = (who: string, extensions: string) => {
    writeFileSync(path.join(dir, `${who}.ext`), extensions);
    openssl(['req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`], dir);
    openssl(['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '2', '-extfile', `${who}.ext`], dir);
  };
  sign('server', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  sign('client', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  const file = (name: string) => path.join(dir, name);
  return { dir, caCert: file('ca.pem'), serverCert: file('server.pem'), serverKey: file('server.key'), clientCert: file('client.pem'), clientKey: file('client.key') };
}

/** A secured front of a Temporal server: TLS, and a client certificate or an API key required. */
export interface SecuredTemporal {
  address: string;
  /** gRPC calls it refused (no or wrong API key). */
  refused: number;
  /** The headers (gRPC metadata) of every call it got. */
  metadata: IncomingHttpHeaders[];
  close(): Promise<void>;
}

const HOP_HEADERS = new Set([':method', ':path', ':scheme', ':authority', ':status']);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([key]) => !HOP_HEADERS.has(key)));
}

/**
 * An HTTP/2 TLS proxy in front of a plaintext Temporal frontend, as a secured
 * cluster or Temporal Cloud looks to a client: it requires a client
 * certificate signed by `clientCa` (mTLS), or `authorization: Bearer <apiKey>`
 * on every call (answering others UNAUTHENTICATED, as Temporal Cloud does). The gRPC methods in `deny`
 * (full paths) are refused with PERMISSION_DENIED, as an authorizer refuses a caller without the role.
 */
export async function startSecuredTemporal(options: { upstream: string; certificates: Certificates; clientCa?: string; apiKey?: string; deny?: string[] }): Promise<SecuredTemporal> {
  const { certificates } = options;
  let upstream: ClientHttp2Session | undefined;
  const session = () => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = http2.connect(`http://${options.upstream}`);
      upstream.on('error', () => undefined);
    }
    return upstream;
  };
  const state = { refused: 0, metadata: [] as IncomingHttpHeaders[] };
  const server: Http2SecureServer = http2.createSecureServer({
    cert: readFileSync(certificates.serverCert),
    key: readFileSync(certificates.serverKey),
    ...(options.clientCa ? { ca: readFileSync(options.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    state.metadata.push(headers);
    if (options.apiKey !== undefined && headers.authorization !== `Bearer ${options.apiKey}`) {
      state.refused += 1;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'Request unauthorized' }, { endStream: true });
      return;
    }
    if (options.deny?.includes(String(headers[':path']))) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'Request unauthorized' }, { endStream: true });
      return;
    }
    const call = session().request({ ':method': headers[':method'], ':path': headers[':path'], ...forwardable(headers) });
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('close', () => {
      if (!call.closed) call.close(http2.constants.NGHTTP2_CANCEL);
    });
    let trailers: OutgoingHttpHeaders = {};
    call.on('trailers', (received) => (trailers = forwardable(received)));
    call.on('response', (response) => {
      if (response['grpc-status'] !== undefined) {
        // Trailers-only: the status is in the headers and nothing follows.
        stream.respond({ ':status': response[':status'] ?? 200, ...forwardable(response) }, { endStream: true });
        return;
      }
      stream.respond({ ':status': response[':status'] ?? 200, ...forwardable(response) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      call.pipe(stream);
    });
    stream.pipe(call);
  });
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('sessionError', () => undefined);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    metadata: state.metadata,
    get refused() {
      return state.refused;
    },
    async close() {
      upstream?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open sessions (a worker's long polls) would hold close() open.
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
