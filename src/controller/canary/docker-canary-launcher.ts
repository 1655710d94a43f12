// `canary start --image`: clones a running app container of the service with
// the new image. Same env, command, working dir, user, mounts and healthcheck;
// labels kept (compose project/service, so `compose down` and `meshctl down`
// remove it) with mesh.version = the canary subset and mesh.canary=true; on the
// template's networks only (the service's private S-net), with its aliases.
// Resolves once the container runs and, if it has a healthcheck, is healthy.
import Docker from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import { Labels } from '../../shared/names.ts';
import type { CanaryLauncher } from './canary-launcher.ts';

export const CANARY_LABEL = 'mesh.canary';
const CONTAINER_NUMBER = 'com.docker.compose.container-number';

export interface DockerCanaryLauncherOptions {
  project: string;
  docker?: Docker;
  /** How long the new container may take to run (and be healthy). */
  readyTimeoutMs?: number;
}

export class DockerCanaryLauncher implements CanaryLauncher {
  #o: DockerCanaryLauncherOptions;
  #docker: Docker;

  constructor(opts: DockerCanaryLauncherOptions) {
    this.#o = opts;
    this.#docker = opts.docker ?? new Docker();
  }

  async launch(service: string, image: string, version: string): Promise<void> {
    const d = this.#docker;
    const list = await d.listContainers({ all: true, filters: { label: [`${Labels.composeProject}=${this.#o.project}`] } });
    const ofService = list.filter((c) => {
      const l = c.Labels ?? {};
      const role = l[Labels.role] ?? (l[Labels.composeService]?.endsWith('-mesh') ? 'proxy' : 'app');
      return role === 'app' && (l[Labels.service] ?? l[Labels.composeService]) === service;
    });
    const template = ofService.find((c) => c.State === 'running' && c.Labels?.[CANARY_LABEL] !== 'true') ?? ofService.find((c) => c.State === 'running');
    if (!template) throw new Error(`no running app container of ${service} in compose project ${this.#o.project} to clone`);
    try {
      await d.getImage(image).inspect();
    } catch {
      throw new Error(`image ${image} is not on this Docker engine; build or load it first (the controller does not pull)`);
    }
    const info = await d.getContainer(template.Id).inspect();
    const number = 1 + Math.max(0, ...ofService.map((c) => Number(c.Labels?.[CONTAINER_NUMBER] ?? 0)).filter(Number.isFinite));
    const labels: Record<string, string> = { ...(info.Config.Labels ?? {}), [Labels.version]: version, [CANARY_LABEL]: 'true', [Labels.role]: 'app', [Labels.service]: service };
    // Compose v1 reads these; a fresh number keeps `compose ps` and scaling from confusing it with a replica.
    if (labels[CONTAINER_NUMBER] !== undefined) labels[CONTAINER_NUMBER] = String(number);
    delete labels['com.docker.compose.config-hash'];
    const networks = Object.entries(info.NetworkSettings.Networks ?? {});
    if (networks.length === 0) throw new Error(`the ${service} container ${info.Name} has no network to join`);
    const endpoint = (n: Docker.NetworkInfo) => ({ Aliases: (n.Aliases ?? []).filter((a: string) => !info.Id.startsWith(a) && a !== info.Config.Hostname) });
    const [firstName, firstNet] = networks[0]!;
    const name = `${info.Name.replace(/^\//, '').replace(/[-_]\d+$/, '')}-canary-${version}-${number}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
    const h = info.HostConfig;
    const created = await d.createContainer({
      name,
      Image: image,
      Env: info.Config.Env,
      // Entrypoint/Cmd as the template ran them: the same compose definition, a new image.
      Entrypoint: info.Config.Entrypoint as string[] | undefined,
      Cmd: info.Config.Cmd as string[] | undefined,
      WorkingDir: info.Config.WorkingDir,
      User: info.Config.User,
      Labels: labels,
      ExposedPorts: info.Config.ExposedPorts,
      Healthcheck: info.Config.Healthcheck,
      StopSignal: (info.Config as { StopSignal?: string }).StopSignal,
      HostConfig: {
        Binds: h.Binds ?? undefined,
        Mounts: (h as { Mounts?: Docker.MountSettings[] }).Mounts,
        RestartPolicy: h.RestartPolicy,
        Init: (h as { Init?: boolean }).Init,
        NetworkMode: firstName,
        // Published ports belong to the sidecar; a clone must not try to bind them again.
      },
      NetworkingConfig: { EndpointsConfig: { [firstName]: endpoint(firstNet) } },
    });
    try {
      for (const [netName, net] of networks.slice(1)) await d.getNetwork(netName).connect({ Container: created.id, EndpointConfig: endpoint(net) });
      await created.start();
      await this.#ready(created, name);
    } catch (err) {
      // Leave it for inspection (the rollout reports why), but say which container it is.
      throw new Error(`canary container ${name}: ${(err as Error).message}`);
    }
  }

  /**
   * Stops and removes the app containers of `version` (the label, or v1 without one, as discovery reads it),
   * whether the canary launcher made them or compose did. Stop sends the container's stop signal and waits its
   * grace period (10 s), so an app that finishes in-flight work on SIGTERM ends cleanly.
   */
  async retire(service: string, version: string): Promise<number> {
    const d = this.#docker;
    const list = await d.listContainers({ all: true, filters: { label: [`${Labels.composeProject}=${this.#o.project}`] } });
    const apps = list.filter((c) => {
      const l = c.Labels ?? {};
      const role = l[Labels.role] ?? (l[Labels.composeService]?.endsWith('-mesh') ? 'proxy' : 'app');
      return role === 'app' && (l[Labels.service] ?? l[Labels.composeService]) === service;
    });
    const retired = apps.filter((c) => (c.Labels?.[Labels.version] ?? 'v1') === version);
    // Never leave the service with no app: the version that takes over must be running.
    if (!apps.some((c) => c.State === 'running' && !retired.includes(c))) throw new Error(`no other running version of ${service}; ${version} is kept`);
    for (const c of retired) {
      const container = d.getContainer(c.Id);
      if (c.State === 'running') await container.stop({ t: 10 }).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 304) throw err; // 304: already stopped
      });
      await container.remove({ force: true });
    }
    return retired.length;
  }

  async #ready(c: Docker.Container, name: string): Promise<void> {
    const deadline = Date.now() + (this.#o.readyTimeoutMs ?? 120_000);
    for (;;) {
      const s = (await c.inspect()).State;
      if (!s.Running && s.Status !== 'created') throw new Error(`exited with code ${s.ExitCode} (docker logs ${name})`);
      if (s.Running && (!s.Health || s.Health.Status === 'healthy')) return;
      if (s.Health?.Status === 'unhealthy') throw new Error(`unhealthy (docker inspect ${name})`);
      if (Date.now() > deadline) throw new Error(`not ${s.Health ? 'healthy' : 'running'} after ${(this.#o.readyTimeoutMs ?? 120_000) / 1000}s`);
      await sleep(250);
    }
  }
}
