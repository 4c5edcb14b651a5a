// The benches time `bizon` commands as an installed package runs them: compiled (dist/). bin/bizon.mjs falls back to
// transpiling the TypeScript sources when dist/ is older than them, which would add seconds of CPU to every CLI
// figure; so a bench builds dist/ from the sources it measures before it starts.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
if (built.status !== 0) throw new Error(`npm run build failed (exit ${built.status}): the bench measures the compiled CLI`);
