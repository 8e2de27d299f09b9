#!/usr/bin/env node
import { createAprProgram } from './apr-program.js';
import { runProgram } from './program.js';

process.exitCode = await runProgram('apr', createAprProgram(), process.argv.slice(2));
