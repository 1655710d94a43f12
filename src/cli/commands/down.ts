// `meshctl down`: remove what `meshctl up` started. The implementation loads lazily.
import type { Command } from 'commander';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('Stop and remove the meshed project: its containers, the networks meshctl added, the controller. The CA is kept.')
    .option('-v, --volumes', 'also remove the volumes')
    .option('--ca', 'also remove the mesh CA (.mesh/ca)')
    .option('--dir <folder>', 'project folder (default: here)')
    .action(async (opts) => {
      const { runDown } = await import('../up/run-down.ts');
      await runDown(opts);
    });
}
