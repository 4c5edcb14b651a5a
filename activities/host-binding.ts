import axios, { type AxiosInstance } from 'axios';
import { isBoundHost } from '../config/secrets.ts';
import { NonRetryableError } from '../errors.ts';

/**
 * Makes `session` refuse every request to a host outside `binding.hosts`: the source reads a secret its worker's
 * operator bound to those hosts (`--allow-env 'NAME=host'`), so no URL a source builds at run time may carry it
 * elsewhere. The pipeline's own URLs were checked before the first request (config/secrets.ts checkSecretHosts).
 */
export function bindSessionHosts(session: AxiosInstance, binding: { variable: string; hosts: readonly string[] }): void {
  session.interceptors.request.use((request) => {
    const url = new URL(axios.getUri(request));
    if (!isBoundHost(url, binding.hosts)) {
      throw new NonRetryableError(
        `Refused a request to ${url.host}: this source reads ${binding.variable}, which the worker's operator bound to ${binding.hosts.join(', ') || 'no common host'} (--allow-env '${binding.variable}=…'). ` +
          `Point the source at an allowed host, or have the operator start the worker with --allow-env '${binding.variable}=${url.host}'`,
      );
    }
    return request;
  });
}
