// `meshctl inject`: write the meshed compose file under .mesh/, nothing else.
import type { Command } from 'commander';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerInject(program: Command): void {
  program
    .command('inject')
    .description('Rewrite a compose project so every service gets a sidecar; writes .mesh/compose.yaml next to the first file, never over your files. Needs no Docker engine.')
    .option('-f, --file <file>', 'compose file (repeat to merge several, as with compose)', collect, [])
    .option('-o, --output <file>', 'where to write; a bare file name goes under .mesh/ (default: .mesh/compose.yaml next to the first -f)')
    .option('--exclude <service>', 'leave a service out of the mesh (repeatable)', collect, [])
    .option('-p, --project <name>', 'compose project name (default: the directory name, or `name:` in the file)')
    .option('--env-file <file>', 'variables for interpolation (default: .env next to the first -f)')
    .option('--loader <how>', 'auto (compose config if installed, else yaml) | compose | yaml', 'auto')
    .option('--subnet-range <cidr>', 'range the per-service S-net subnets are carved from (default 10.213.0.0/16, or $MESH_SUBNET_RANGE)')
    .option('--subnet-size <prefix>', 'prefix length of each S-net subnet (default 27)', (v) => Number(v))
    .option('--image <tag>', 'sidecar image (default mesh:<version>)')
    .option('--mesh-network <name>', "the sidecars' shared network (default mesh; must match meshNetwork in mesh.config.ts)")
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const { runInject } = await import('../compose/run-inject.ts');
      await runInject(opts);
    });
}
