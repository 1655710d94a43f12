// `meshctl validate`: check mesh.config.ts (or x-mesh in the compose file)
// without Docker. Exit 2 when invalid, with every error named by file and path.
import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('Check the mesh configuration (mesh.config.ts, or x-mesh: in the compose file) without touching Docker.')
    .option('--config <file>', 'mesh config file (default: mesh.config.ts beside the compose file)')
    .option('-f, --file <compose>', 'compose file; its services are checked against the config and its x-mesh: key is read')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { config?: string; file?: string; json?: boolean }) => {
      const { loadMeshConfig } = await import('../../controller/config/load-config.ts');
      const { ExitCodes } = await import('../../shared/errors.ts');
      const r = await loadMeshConfig({ configPath: opts.config, composePath: opts.file });
      if (opts.json) {
        process.stdout.write(
          JSON.stringify(r.ok ? { ok: true, file: r.file, services: Object.keys(r.config.services).sort() } : { ok: false, file: r.file, errors: r.errors }) + '\n',
        );
      } else if (r.ok) {
        const n = Object.keys(r.config.services).length;
        process.stdout.write(`${r.file}: valid (${n} service${n === 1 ? '' : 's'} configured)\n`);
      } else {
        process.stderr.write(`${r.errors.join('\n')}\n  code: MESH_ERR_CONFIG_INVALID\n  fix:  fix the named field and run \`meshctl validate\` again\n`);
      }
      if (!r.ok) process.exitCode = ExitCodes.usage;
    });
}
