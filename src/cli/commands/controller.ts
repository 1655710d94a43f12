// `meshctl controller`: run the control plane for one compose project, in its
// container or as a plain process on the host. The implementation loads lazily.
import type { Command } from 'commander';

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('Run the mesh controller: discovery, snapshots pushed to proxies, and the local API the CLI uses.')
    .requiredOption('--project <name>', 'compose project to watch (the com.docker.compose.project label)')
    .option('--discovery <source>', 'docker, or static:FILE (a JSON file of workloads, watched for changes)', 'docker')
    .option('--listen <host:port>', 'address of the API, the sign endpoint and the plain push channel', '127.0.0.1:15010')
    .option('--push-listen <host:port>', 'also serve the push channel over mTLS here (client certificates from the mesh CA)')
    .option('--push-dns <name>', 'DNS name in the push listener\'s certificate besides localhost (the compose service name)')
    .option('--state-dir <dir>', 'where overrides are persisted', '.mesh')
    .option('--config <file>', 'mesh config file (default: mesh.config.ts in the current folder)')
    .option('-f, --file <compose>', 'compose file (for x-mesh: and service names)')
    .option('--token <token>', 'bootstrap token proxies must present (default: $MESH_BOOTSTRAP_TOKEN, else generated into the state dir)')
    .action(async (opts) => {
      const { runController } = await import('../../controller/run-controller.ts');
      await runController(opts);
    });
}
