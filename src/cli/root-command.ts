// The root `meshctl` command every program starts from: name, description,
// version and how errors show. Loads commander and nothing of the commands.
import { Command } from 'commander';
import { MESH_VERSION } from './image/mesh-version.ts';

export function rootCommand(): Command {
  return new Command('meshctl')
    .description('A service mesh for Docker Compose: mTLS, retries, timeouts, routing, metrics and traces for every service, with no change to the services.')
    .version(MESH_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });
}
