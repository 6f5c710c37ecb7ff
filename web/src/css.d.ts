/** CSS that esbuild bundles beside the page's script (web/dist/<page>.css). */
declare module '*.css';
