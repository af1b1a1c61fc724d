// Benchmark peer: an MCP server built on the official TypeScript SDK
// (@modelcontextprotocol/sdk), serving one echo tool over Streamable HTTP in
// stateless mode with plain JSON responses. Written for bench/run.
//
// Usage: node bench/ts_server.mjs PORT
// Resolves the SDK from tools/npm/node_modules (NODE_PATH is not consulted by
// ESM, so the import is made through createRequire on that folder).
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const npmDir = process.env.BENCH_NPM_DIR || path.join(here, '..', 'tools', 'npm');
const require = createRequire(path.join(npmDir, 'package.json'));
const load = (spec) => import(pathToFileURL(require.resolve(spec)).href);

const { McpServer } = await load('@modelcontextprotocol/sdk/server/mcp.js');
const { StreamableHTTPServerTransport } = await load('@modelcontextprotocol/sdk/server/streamableHttp.js');
const z = await load('zod/v4');

const port = Number(process.argv[2] || process.env.PORT || 0);

// One McpServer + one transport per request: the stateless pattern the SDK's
// own examples use (a Protocol instance can only be connected once).
function buildServer() {
  const server = new McpServer({ name: 'bench-ts-sdk', version: '1.0.0' });
  server.registerTool(
    'test_tool',
    {
      description: 'Echo the message back',
      inputSchema: { message: z.string() },
    },
    async ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );
  return server;
}

function jsonError(res, status, message) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

const httpServer = http.createServer(async (req, res) => {
  const url = req.url || '/';
  if (!(url === '/mcp' || url.startsWith('/mcp?'))) {
    return jsonError(res, 404, 'Not found');
  }
  if (req.method !== 'POST') {
    return jsonError(res, 405, 'Method not allowed.');
  }
  const server = buildServer();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  res.on('close', () => {
    transport.close();
    server.close();
  });
  try {
    await server.connect(transport);
    await transport.handleRequest(req, res);
  } catch (err) {
    console.error('error handling MCP request:', err);
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null }));
    }
  }
});

httpServer.keepAliveTimeout = 60_000;
httpServer.listen(port, '127.0.0.1', () => {
  const addr = httpServer.address();
  console.error(`ts-sdk listening on http://127.0.0.1:${addr.port}/mcp`);
});

const stop = () => httpServer.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
