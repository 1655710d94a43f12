// `meshctl up`: mesh a compose project and start it. The implementation loads lazily.
import type { Command } from 'commander';

const collect = (v: string, all: string[]) => [...all, v];

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('Mesh a compose project and start it: build the mesh image if needed, write .mesh/compose.yaml, start the controller and the project, wait until every sidecar holds its snapshot.')
    .option('-f, --file <compose>', 'compose file (repeatable; default: compose.yaml / docker-compose.yml here)', collect, [])
    .option('--config <file>', 'mesh config (default: mesh.config.ts beside the compose file)')
    .option('-p, --project <name>', 'compose project name (default: the folder name)')
    .option('--exclude <service>', 'leave a service out of the mesh (repeatable)', collect, [])
    .option('--scale <service=n>', 'passed to compose up (repeatable)', collect, [])
    .option('--timeout <duration>', 'how long to wait for every sidecar to sync', '120s')
    .option('--image <tag>', 'mesh image (default: $MESH_IMAGE, else mesh:<version>)')
    .option('--no-build', 'use the mesh image as it is (no rebuild when meshctl changed)')
    .option('--json', 'print the result as JSON on stdout')
    .option('--observability', 'also run Prometheus, Grafana (mesh dashboard provisioned) and Jaeger in the project; an image that is not in the engine and cannot be pulled is left out with a warning')
    .action(async (opts) => {
      const { runUp } = await import('../up/run-up.ts');
      const r = await runUp(opts);
      if (opts.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    });
}
