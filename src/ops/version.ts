/** The version recorded in provenance entries (kept in step with package.json by a test). */
export const TOOL_VERSION = 'apr 0.1.0';
