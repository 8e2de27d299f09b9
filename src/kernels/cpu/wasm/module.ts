import { ACT_SOURCES } from './act-src.js';
import type { Asm, KernelSource, ValType } from './asm.js';
import { ATTENTION_SOURCES } from './attention-src.js';
import { INT_GEMM_SOURCES } from './int-gemm-src.js';
import { INT_K8_SOURCES } from './int-k8-src.js';
import { INT_SOURCES } from './int-src.js';
import { MATMUL_SOURCES } from './matmul-src.js';
import { QUANT_SOURCES } from './quant-src.js';

/** Assembles the kernel sources into one WebAssembly module (SIMD128, shared memory imported as env.memory). */

const TYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function str(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

class FunctionAsm implements Asm {
  readonly code: number[] = [];
  private readonly slots = new Map<string, number>();
  readonly localTypes: ValType[] = [];
  private readonly nParams: number;

  constructor(
    private readonly src: KernelSource,
    private readonly fnIndex: ReadonlyMap<string, number>,
  ) {
    src.params.forEach(([name], i) => this.slots.set(name, i));
    this.nParams = src.params.length;
  }

  private slot(name: string): number {
    const s = this.slots.get(name);
    // Stryker disable next-line StringLiteral: assembler self-check; the fixed kernel sources only read declared locals, so this message is unreachable
    if (s === undefined) throw new Error(`wasm kernel ${this.src.name}: unknown local '${name}'`);
    return s;
  }

  local(name: string, type: ValType): Asm {
    // Stryker disable next-line StringLiteral: assembler self-check; the fixed kernel sources declare each local once, so this message is unreachable
    if (this.slots.has(name)) throw new Error(`wasm kernel ${this.src.name}: local '${name}' declared twice`);
    this.slots.set(name, this.nParams + this.localTypes.length);
    this.localTypes.push(type);
    return this;
  }

  get(name: string): Asm {
    return this.op(0x20, ...uleb(this.slot(name)));
  }

  set(name: string): Asm {
    return this.op(0x21, ...uleb(this.slot(name)));
  }

  tee(name: string): Asm {
    return this.op(0x22, ...uleb(this.slot(name)));
  }

  i32(v: number): Asm {
    return this.op(0x41, ...sleb(v | 0));
  }

  f32(v: number): Asm {
    const b = new Uint8Array(Float32Array.of(v).buffer);
    return this.op(0x43, ...b);
  }

  op(...bytes: number[]): Asm {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  simd(op: number, ...imm: number[]): Asm {
    return this.op(0xfd, ...uleb(op), ...imm);
  }

  mem(op: number, offset = 0, alignLog2 = 0): Asm {
    return this.op(op, alignLog2, ...uleb(offset));
  }

  vload(offset = 0): Asm {
    return this.simd(0x00, 0, ...uleb(offset));
  }

  vloadOp(op: number, offset = 0): Asm {
    return this.simd(op, 0, ...uleb(offset));
  }

  vstore(offset = 0): Asm {
    return this.simd(0x0b, 0, ...uleb(offset));
  }

  block(body: () => void): Asm {
    this.op(0x02, 0x40);
    body();
    return this.op(0x0b);
  }

  loop(body: () => void): Asm {
    this.op(0x03, 0x40);
    body();
    return this.op(0x0b);
  }

  ifThen(body: () => void): Asm {
    this.op(0x04, 0x40);
    body();
    return this.op(0x0b);
  }

  br(depth: number): Asm {
    return this.op(0x0c, ...uleb(depth));
  }

  brIf(depth: number): Asm {
    return this.op(0x0d, ...uleb(depth));
  }

  call(fn: string): Asm {
    const idx = this.fnIndex.get(fn);
    // Stryker disable next-line StringLiteral: assembler self-check; the fixed kernel sources only call functions of their module, so this message is unreachable
    if (idx === undefined) throw new Error(`wasm kernel ${this.src.name}: unknown function '${fn}'`);
    return this.op(0x10, ...uleb(idx));
  }

  private push(v: number | string): void {
    if (typeof v === 'number') this.i32(v);
    else this.get(v);
  }

  for(name: string, from: number | string, to: number | string, step: number, body: () => void): Asm {
    this.push(from);
    this.set(name);
    return this.block(() =>
      this.loop(() => {
        this.get(name);
        this.push(to);
        this.op(0x4e).brIf(1);
        body();
        this.get(name).i32(step).op(0x6a).set(name).br(0);
      }),
    );
  }

  body(): number[] {
    this.src.emit(this);
    const locals = vec(this.localTypes.map((t) => [1, TYPE[t]]));
    const b = [...locals, ...this.code, 0x0b];
    return [...uleb(b.length), ...b];
  }
}

function assemble(sources: readonly KernelSource[]): Uint8Array {
  const fnIndex = new Map(sources.map((s, i) => [s.name, i]));
  const types = sources.map((s) => [0x60, ...vec(s.params.map(([, t]) => [TYPE[t]])), 0]);
  const memoryImport = [...str('env'), ...str('memory'), 0x02, 0x03, ...uleb(1), ...uleb(65536)];
  const exports = sources.filter((s) => s.exported).map((s) => [...str(s.name), 0x00, ...uleb(fnIndex.get(s.name) ?? 0)]);
  const bodies = sources.map((s) => new FunctionAsm(s, fnIndex).body());
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memoryImport])),
    ...section(3, vec(sources.map((_, i) => uleb(i)))),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}

const COMMON_SOURCES = [...MATMUL_SOURCES, ...QUANT_SOURCES, ...ATTENTION_SOURCES, ...INT_SOURCES, ...INT_GEMM_SOURCES, ...ACT_SOURCES];
const assembled: { relaxed?: Uint8Array; plain?: Uint8Array } = {};

/**
 * The kernel module's bytes: `relaxed`, the K-quant integer dots on relaxed SIMD (see int-k8-src.ts), or `plain`.
 * Each is assembled when first read, so a process pays only for the variant its engine runs.
 */
export const KERNEL_WASM: Readonly<Record<'relaxed' | 'plain', Uint8Array>> = {
  get relaxed(): Uint8Array {
    return (assembled.relaxed ??= assemble([...COMMON_SOURCES, ...INT_K8_SOURCES.relaxed]));
  },
  get plain(): Uint8Array {
    return (assembled.plain ??= assemble([...COMMON_SOURCES, ...INT_K8_SOURCES.plain]));
  },
};

/**
 * A probe for relaxed SIMD: `probe()` stores i16x8.relaxed_dot_i8x16_i7x16_s(bytes 0..15, bytes 16..31) at
 * byte 32 (the runtime checks the lanes against exact integer arithmetic before trusting the instruction).
 */
export const RELAXED_PROBE_WASM: Uint8Array = assemble([
  {
    name: 'probe',
    params: [],
    exported: true,
    emit(a) {
      a.i32(32).i32(0).vload(0).i32(16).vload(0).simd(0x112).vstore(0);
    },
  },
]);
