// Starts the app containers of a new version for `canary start --image`, and
// retires the stable version's containers after a promotion.
// Behind an interface so static-discovery controllers (and tests) run without
// Docker; docker-canary-launcher.ts is the implementation for compose projects.
export interface CanaryLauncher {
  /** Creates and starts the canary's containers; resolves once they run (discovery then reports them). */
  launch(service: string, image: string, version: string): Promise<void>;
  /** Stops (SIGTERM, then the container's grace period) and removes the app containers of one version; answers how many. */
  retire?(service: string, version: string): Promise<number>;
}

/** The Docker launcher, loaded on first use so static-discovery controllers never load dockerode for it. */
export function lazyDockerLauncher(project: string): CanaryLauncher {
  let launcher: Promise<CanaryLauncher> | undefined;
  return {
    async launch(service, image, version) {
      launcher ??= import('./docker-canary-launcher.ts').then((m) => new m.DockerCanaryLauncher({ project }));
      return (await launcher).launch(service, image, version);
    },
    async retire(service, version) {
      launcher ??= import('./docker-canary-launcher.ts').then((m) => new m.DockerCanaryLauncher({ project }));
      return (await launcher).retire!(service, version);
    },
  };
}
