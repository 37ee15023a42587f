import { hostname } from 'node:os';

/** This node's name as the agent reports it: nodeName, else $NODE_NAME (the downward API), else the host name. */
export function localNodeName(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return configured ?? env.NODE_NAME ?? hostname();
}
