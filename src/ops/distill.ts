/**
 * `apr distill`: trains a student on a teacher's softened distributions (standard), on text ordered from
 * easy to hard by the teacher's loss (progressive), or on the mean of several teachers (ensemble).
 */
import { existsSync } from 'node:fs';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { openModel } from '../formats/open.js';
import { pathLabel, provenanceEntry } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import { loadModel, type Model } from '../model/index.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { loadDataset } from '../train/data/index.js';
import { type WrittenModel, writeTrained } from '../train/distill/output.js';
import { DISTILL_DEFAULTS, type DistillStrategy, distillRun } from '../train/distill/run.js';
import { requireSameVocab } from '../train/distill/tokenizer-check.js';
import { runTraining } from '../train/loop.js';
import { createTrainableModel, initRandomBundle } from '../train/model/index.js';
import type { EpochRecord, TrainingOptions, TrainingRequest } from '../train/types.js';
import { TOOL_VERSION } from './version.js';

/** valSplit defaults to 0.1 (of the JSONL records). */
export interface DistillOptions extends TrainingRequest {
  teacher: string;
  /** More teachers for `ensemble` (the first teacher is `teacher`). */
  teachers?: string[];
  /** A model path, or `init:<path>` for a freshly initialised model of that model's architecture. */
  student: string;
  data: string;
  output: string;
  strategy: DistillStrategy;
  /** Softening temperature T (default DISTILL_DEFAULTS.temperature). */
  temperature?: number;
  /** Weight α of the soft term (default DISTILL_DEFAULTS.alpha). */
  alpha?: number;
  /** `{"messages"}` data: score only the assistant tokens (default true). */
  assistantOnlyLoss?: boolean;
}

export interface DistillResult {
  output: string;
  format: WrittenModel['format'];
  bytes: number;
  strategy: DistillStrategy;
  teachers: string[];
  student: string;
  studentParameters: number;
  trainWindows: number;
  valWindows: number;
  temperature: number;
  alpha: number;
  history: EpochRecord[];
  seconds: number;
}

const INIT = 'init:';

/** T and α of a run: the options', else DISTILL_DEFAULTS. */
function distillSettings(o: DistillOptions): { strategy: DistillStrategy; temperature: number; alpha: number } {
  return { strategy: o.strategy, temperature: o.temperature ?? DISTILL_DEFAULTS.temperature, alpha: o.alpha ?? DISTILL_DEFAULTS.alpha };
}

export const distillContract = defineContract<DistillOptions, DistillResult>({
  id: 'op-distill-v1',
  equation: 'distill',
  spec: 'θ_s ← AdamW on L = α·T²·KL(mean_k softmax(t_k/T) ‖ softmax(s/T)) + (1−α)·CE over the data windows; writes θ_s',
  pre: [
    ['T > 0, α ∈ [0, 1], epochs ≥ 1', (o) => {
      const { temperature, alpha } = distillSettings(o);
      return temperature > 0 && alpha >= 0 && alpha <= 1 && (o.epochs ?? 1) >= 1;
    }],
    ['ensemble has ≥ 2 teachers, other strategies 1', (o) => (o.strategy === 'ensemble') === ((o.teachers?.length ?? 0) >= 1)],
    ['inputs exist', (o) => [o.teacher, ...(o.teachers ?? []), o.data].every(existsSync) && (o.student.startsWith(INIT) || existsSync(o.student))],
  ],
  post: [
    ['one finite history row per epoch', (o, r) => r.history.length === (o.epochs ?? 1) && r.history.every((h) => Number.isFinite(h.trainLoss))],
    ['output written', (_o, r) => existsSync(r.output)],
  ],
});

function trainingOptions(o: DistillOptions): TrainingOptions {
  return {
    epochs: o.epochs ?? 1, batchSize: o.batchSize ?? 1, gradAccum: o.gradAccum ?? 4, lr: o.lr ?? 1e-3,
    warmupRatio: 0.05, minLrRatio: 0.1, weightDecay: 0, maxGradNorm: 1, seed: o.seed ?? 0,
  };
}

/** The student bundle: a model file, or a fresh initialisation of a model's architecture (`init:<path>`). */
function studentBundle(spec: string, seed: number): { bundle: ModelBundle; path: string } {
  if (!spec.startsWith(INIT)) return { bundle: openModel(spec), path: spec };
  const path = spec.slice(INIT.length);
  const arch = openModel(path);
  try {
    return { bundle: initRandomBundle(arch.config, arch.tokenizer, seed), path };
  } finally {
    arch.tensors.close();
  }
}

function loadTeacher(path: string, studentPath: string, student: ModelBundle): Model {
  const bundle = openModel(path);
  try {
    requireSameVocab(path, bundle.tokenizer, studentPath, student.tokenizer);
    if (bundle.config.vocab_size !== student.config.vocab_size) throw new FormatError(studentPath, 'config.vocab_size', `${student.config.vocab_size} differs from the teacher's ${bundle.config.vocab_size}`);
    return loadModel(bundle);
  } finally {
    bundle.tensors.close();
  }
}

function run(o: DistillOptions): DistillResult {
  const t0 = performance.now();
  const options = trainingOptions(o);
  const { bundle, path: studentPath } = studentBundle(o.student, options.seed);
  const teacherPaths = [o.teacher, ...(o.teachers ?? [])];
  const teachers = teacherPaths.map((p) => loadTeacher(p, studentPath, bundle));
  try {
    if (!bundle.tokenizer) throw new FormatError(studentPath, 'tokenizer', 'the model carries no tokenizer');
    const tokenizer = loadTokenizer(bundle.tokenizer, { source: `${studentPath}: tokenizer`, modelConfig: bundle.config });
    const data = loadDataset(o.data, tokenizer, { task: 'completion', maxSeqLen: o.maxSeqLen ?? 128, valSplit: o.valSplit ?? 0.1, seed: options.seed, assistantOnlyLoss: o.assistantOnlyLoss ?? true });
    const train = data.train.map((e) => e.tokens), val = data.val.map((e) => e.tokens);
    const masks = new Map([...data.train, ...data.val].map((e) => [e.tokens, e.mask] as const));
    const student = createTrainableModel(bundle, { method: 'full', seed: options.seed });
    const settings = distillSettings(o);
    const history = runTraining({
      ...distillRun({ student, teachers, train, val, settings, options, masks }),
      ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    const inputDigests = [...teacherPaths, o.data].map(sourceDigest);
    const provenance = provenanceEntry({ op: 'distill', options: { ...settings, teachers: teacherPaths.map(pathLabel), student: pathLabel(o.student), ...options }, inputDigests, toolVersion: TOOL_VERSION });
    const written = writeTrained(student, o.output, false, provenance, o.format);
    const studentParameters = student.parameters().reduce((a, p) => a + p.data.length, 0);
    return { ...written, strategy: o.strategy, teachers: teacherPaths, student: o.student, studentParameters, trainWindows: train.length, valWindows: val.length, temperature: settings.temperature, alpha: settings.alpha, history, seconds: (performance.now() - t0) / 1000 };
  } finally {
    for (const t of teachers) t.dispose();
    bundle.tensors.close();
  }
}

/** `apr distill`: trains the student and writes it to `opts.output`. */
export function distillModel(opts: DistillOptions): DistillResult {
  return distillContract.run(opts, () => run(opts));
}
