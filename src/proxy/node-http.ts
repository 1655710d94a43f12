// Node's http module, loaded without its ES module facade. Import `http` from
// here, not from 'node:http' (types: `import type { … } from 'node:http'`).
//
// Why: the first `import … from 'node:http'` makes Node build an ES module
// namespace for it, which reads every export once, including the lazy
// WebSocket / CloseEvent / MessageEvent getters, and those load Node's bundled
// undici with zlib, web streams and File (nodejs/node#59686): ~1.5 MB of
// anonymous and ~0.8 MB of file-backed RSS in a sidecar that never uses them
// (6.5 and 7 MB in a bare process). process.getBuiltinModule() hands back the module's
// own exports object and reads no getter. One `import from 'node:http'`
// anywhere in the sidecar's module graph brings the cost back.
export const http = process.getBuiltinModule('node:http');
