// `meshctl proxy`: run one sidecar from a static snapshot file, or from the
// controller. The implementation loads lazily.
import type { Command } from 'commander';

export function registerProxy(program: Command): void {
  program
    .command('proxy')
    .description('Run one sidecar proxy from a static snapshot file (like `envoy -c`), or subscribed to a controller.')
    .option('-c, --config <file>', 'snapshot JSON file to serve (re-read on SIGHUP)')
    .option('--admin <host:port>', 'admin server address (/ready, /metrics, /config, /stats)', '127.0.0.1:15000')
    .option('--controller <url>', 'subscribe to this controller instead of reading a file (default: $MESH_CONTROLLER_URL; needs $MESH_SERVICE and $MESH_BOOTSTRAP_TOKEN; admin then on 0.0.0.0:15000)')
    .option('--tls-cert <file>', 'static mode with mTLS: this proxy\'s certificate chain (PEM, URI SAN spiffe://...)')
    .option('--tls-key <file>', 'static mode with mTLS: its private key (PEM)')
    .option('--tls-ca <file>', 'static mode with mTLS: the mesh roots to trust (PEM)')
    .action(async (opts) => {
      const { runProxy } = await import('../../proxy/run-proxy.ts');
      await runProxy(opts);
    });
}
