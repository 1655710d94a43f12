// `meshctl image build`: build the mesh image (online Dockerfile or offline import).
import type { Command } from 'commander';

export function registerImage(program: Command): void {
  const image = program.command('image').description('Manage the mesh image that runs sidecars, the controller and the sample app.');
  image
    .command('build')
    .description('Build mesh:<version>: from node:24-slim when a registry is reachable, otherwise offline from the local Node binary (chosen automatically).')
    .option('--tag <tag>', 'image tag (default mesh:<version>, or $MESH_IMAGE)')
    .option('--offline', 'build without a registry: pack the local Node, its libraries and the package, then docker import')
    .option('--online', 'build from the Dockerfile on node:24-slim (needs the image or a registry)')
    .option('--if-changed', 'skip the build when the image already holds this package (content-hash label)')
    .action(async (opts) => {
      const { runImageBuild } = await import('../image/run-image-build.ts');
      await runImageBuild(opts);
    });
}
