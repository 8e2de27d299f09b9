import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/** The suite's config for Stryker: its own reporters only (no JSON/obligation reports written from the sandbox). */
export default mergeConfig(base, defineConfig({ test: { reporters: ['default'], coverage: { enabled: false } } }));
