// The layers of src/, checked by `npm run lint` (depcruise src). Type-only imports count too: a type is a
// dependency of the design even when the compiled JavaScript drops it.
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module never depends on itself through others (e.g. app.ts imports the routes; the routes import context.ts, not app.ts).',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'src/core decides from its inputs alone: the other layers of src/ depend on it, never the other way round (not even for a type).',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'core-no-node-builtins',
      severity: 'error',
      comment: 'No node: built-ins in the core, not even their types.',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-packages-types-only',
      severity: 'error',
      comment: 'From a package the core may import types (import type), no code.',
      from: { path: '^src/core/' },
      to: { pathNot: '^src/', dependencyTypesNot: ['type-only', 'core'] },
    },
    {
      name: 'drachtio-not-sim',
      severity: 'error',
      comment: 'The real backend and the simulator are two adapters of the same ports: neither uses the other.',
      from: { path: '^src/telephony/drachtio/' },
      to: { path: '^src/telephony/sim/' },
    },
    {
      name: 'sim-not-drachtio',
      severity: 'error',
      comment: 'The real backend and the simulator are two adapters of the same ports: neither uses the other.',
      from: { path: '^src/telephony/sim/' },
      to: { path: '^src/telephony/drachtio/' },
    },
    {
      name: 'api-not-drachtio',
      severity: 'error',
      comment: 'The API sees the real backend only through ports (e.g. src/ports/media-telemetry.ts).',
      from: { path: '^src/api/' },
      to: { path: '^src/telephony/drachtio/' },
    },
    {
      name: 'orchestrator-not-api',
      severity: 'error',
      comment: 'The orchestrator serves the API; it does not know it.',
      from: { path: '^src/orchestrator/' },
      to: { path: '^src/api/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
