// The options every command that talks to the controller API takes, with one
// description of how the controller and its token are found (see
// ControllerClient.connect).
import type { Command } from 'commander';

export function controllerOptions(c: Command): Command {
  return c
    .option('--controller <url>', 'controller API (default: $MESH_CONTROLLER_URL, the one `meshctl up` started here, or http://127.0.0.1:15010)')
    .option('--token <token>', 'API token (default: $MESH_BOOTSTRAP_TOKEN or .mesh/bootstrap-token)');
}
