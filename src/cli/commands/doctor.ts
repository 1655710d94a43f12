// `meshctl doctor`: check the engine, compose, image, controller, proxies and clocks. Loads lazily.
import type { Command } from 'commander';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('Check the Docker engine and compose, the mesh image, the controller, each proxy\'s sync and the host/Docker clock difference; print what to fix. Exit 1 when a check fails.')
    .option('--dir <folder>', 'project folder (default: here)')
    .option('--image <tag>', 'mesh image (default: $MESH_IMAGE, else mesh:<version>)')
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const { runDoctor, formatDoctor } = await import('../up/run-doctor.ts');
      const checks = await runDoctor(opts);
      process.stdout.write(opts.json ? JSON.stringify(checks, null, 2) + '\n' : formatDoctor(checks));
      if (checks.some((c) => !c.ok)) process.exitCode = 1;
    });
}
