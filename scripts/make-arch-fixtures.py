#!/usr/bin/env python3
"""Small random-weight GGUF models of each architecture apr loads, and llama.cpp's logits for them.

    PYTHONPATH=/work/main/.cache/llama-cpp/src/gguf-py python3 scripts/make-arch-fixtures.py \
        --vocab-from ../shared/fixtures/gguf/tiny-draft-llama-f32.gguf \
        --llama-logits /tmp/llama-logits --out test/fixtures/arch

Each model is written with llama.cpp's own gguf-py, with the keys and tensor names its converter
(convert_hf_to_gguf.py) writes for that architecture: Q/K rows of llama in GGUF's interleaved RoPE order,
Gemma's RMSNorm gains stored as 1 + w, Phi-3's fused attn_qkv and gate‖up ffn_up. Weights are drawn from a
seeded numpy generator, so a rerun gives the same files. The vocabulary is the first 512 tokens of the
project's fixture tokenizer (3 specials, the 256 byte tokens, the first merges), with the merges whose parts
and result are all kept: a byte-level BPE that llama.cpp and apr both load. With --llama-logits (the program
built from scripts/llama-logits.cpp) it then evaluates TOKENS with libllama and writes <name>.logits.f32
(len(TOKENS) × 512 float32). manifest.json records the ids, shapes and how each reference was made.
"""
import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
import gguf

VOCAB = 512
TOKENS = [17, 300, 45, 402, 88, 259, 131, 77, 500, 12, 260, 33, 411, 97, 263, 150, 71, 384, 266, 9, 205, 460, 58, 271]

# name → hyper-parameters. head_dim differs from hidden/heads where the architecture allows it.
MODELS = {
    'llama': dict(arch='llama', hidden=64, layers=2, heads=4, kv=2, head_dim=16, ff=96, theta=10000.0, eps=1e-5),
    'qwen3': dict(arch='qwen3', hidden=64, layers=2, heads=4, kv=2, head_dim=24, ff=96, theta=1000000.0, eps=1e-6),
    'mistral': dict(arch='llama', hidden=64, layers=2, heads=4, kv=2, head_dim=16, ff=96, theta=10000.0, eps=1e-5, window=6),
    'phi3': dict(arch='phi3', hidden=64, layers=2, heads=4, kv=2, head_dim=16, ff=96, theta=10000.0, eps=1e-5, rot=8, untied=True),
    'gemma2': dict(arch='gemma2', hidden=64, layers=2, heads=4, kv=2, head_dim=24, ff=96, theta=10000.0, eps=1e-6,
                   window=6, attn_cap=5.0, final_cap=4.0),
    'gemma3': dict(arch='gemma3', hidden=64, layers=3, heads=4, kv=2, head_dim=32, ff=96, theta=1000000.0, eps=1e-6,
                   window=5, pattern=3, theta_swa=10000.0),
}


def read_vocab(path):
    r = gguf.GGUFReader(path)
    f = r.fields
    tokens = [str(bytes(f['tokenizer.ggml.tokens'].parts[i]), 'utf-8') for i in f['tokenizer.ggml.tokens'].data][:VOCAB]
    types = [int(f['tokenizer.ggml.token_type'].parts[i][0]) for i in f['tokenizer.ggml.token_type'].data][:VOCAB]
    merges = [str(bytes(f['tokenizer.ggml.merges'].parts[i]), 'utf-8') for i in f['tokenizer.ggml.merges'].data]
    template = str(bytes(f['tokenizer.chat_template'].parts[f['tokenizer.chat_template'].data[0]]), 'utf-8')
    kept = set(tokens)
    merges = [m for m in merges if all(p in kept for p in m.split(' ')) and m.replace(' ', '') in kept]
    return tokens, types, merges, template


def add_vocab(w, vocab):
    tokens, types, merges, template = vocab
    w.add_tokenizer_model('gpt2')
    w.add_tokenizer_pre('gpt-2')
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_eos_token_id(0)
    w.add_pad_token_id(0)
    w.add_chat_template(template)


def add_keys(w, name, m):
    a = m['arch']
    # general.name must not contain "phi3"/"phi-3": llama.cpp then patches Phi-3's special tokens (<s>, </s>, ...)
    w.add_name(f'Tiny Random {name}'.replace('phi3', 'Phi Mini'))
    w.add_block_count(m['layers'])
    w.add_context_length(256)
    w.add_embedding_length(m['hidden'])
    w.add_feed_forward_length(m['ff'])
    w.add_head_count(m['heads'])
    w.add_head_count_kv(m['kv'])
    w.add_rope_freq_base(m['theta'])
    w.add_layer_norm_rms_eps(m['eps'])
    if a != 'phi3':
        w.add_key_length(m['head_dim'])
        w.add_value_length(m['head_dim'])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if a == 'phi3':
        w.add_rope_dimension_count(m['rot'])
        w.add_rope_scaling_orig_ctx_len(256)
        w.add_sliding_window(0)
    if a == 'llama':
        w.add_vocab_size(VOCAB)
        w.add_rope_dimension_count(m['head_dim'])
    if 'window' in m:
        # llama (Mistral): a key llama.cpp's llama graph does not read (full attention); apr reads it as sliding_window
        w.add_sliding_window(m['window'])
    if 'attn_cap' in m:
        w.add_attn_logit_softcapping(m['attn_cap'])
        w.add_final_logit_softcapping(m['final_cap'])
    if 'pattern' in m:
        w.add_sliding_window_pattern(m['pattern'])
        w.add_rope_freq_base_swa(m['theta_swa'])


def rnd(rng, rows, cols, gain=1.0):
    return (rng.standard_normal((rows, cols)) * gain / np.sqrt(cols)).astype(np.float32)


def gain(rng, n):
    # an RMSNorm gain near 1; for Gemma this is the stored 1 + w (the converter adds 1 to HF's w)
    return (1.0 + 0.15 * rng.standard_normal(n)).astype(np.float32)


def layer_tensors(rng, m, i):
    a, H, D, ff = m['arch'], m['hidden'], m['head_dim'], m['ff']
    q_dim, kv_dim = m['heads'] * D, m['kv'] * D
    gemma = a.startswith('gemma')
    qk_gain = 2.0 if a == 'gemma2' else 1.0
    q, k, v = rnd(rng, q_dim, H, qk_gain), rnd(rng, kv_dim, H, qk_gain), rnd(rng, kv_dim, H)
    p = f'blk.{i}.'
    out = {p + 'attn_norm.weight': gain(rng, H)}
    if a == 'phi3':
        out[p + 'attn_qkv.weight'] = np.concatenate([q, k, v], axis=0)
    else:
        out.update({p + 'attn_q.weight': q, p + 'attn_k.weight': k, p + 'attn_v.weight': v})
    out[p + 'attn_output.weight'] = rnd(rng, H, q_dim)
    if a in ('qwen3', 'gemma3'):
        out[p + 'attn_q_norm.weight'] = gain(rng, D)
        out[p + 'attn_k_norm.weight'] = gain(rng, D)
    out[p + 'ffn_norm.weight'] = gain(rng, H)
    if gemma:
        out[p + 'post_attention_norm.weight'] = gain(rng, H)
        out[p + 'post_ffw_norm.weight'] = gain(rng, H)
    gate, up = rnd(rng, ff, H), rnd(rng, ff, H)
    if a == 'phi3':
        out[p + 'ffn_up.weight'] = np.concatenate([gate, up], axis=0)
    else:
        out.update({p + 'ffn_gate.weight': gate, p + 'ffn_up.weight': up})
    out[p + 'ffn_down.weight'] = rnd(rng, H, ff)
    return out


def build(name, m, vocab, out_dir):
    rng = np.random.default_rng(sum(map(ord, name)))
    path = out_dir / f'{name}.gguf'
    w = gguf.GGUFWriter(str(path), m['arch'])
    add_keys(w, name, m)
    add_vocab(w, vocab)
    # Gemma multiplies the embedding by sqrt(hidden) = 8 on input: 0.2 keeps its rows near unit scale there
    embed_std = 0.2 if m['arch'].startswith('gemma') else 0.3
    tensors = {'token_embd.weight': (rng.standard_normal((VOCAB, m['hidden'])) * embed_std).astype(np.float32)}
    for i in range(m['layers']):
        tensors.update(layer_tensors(rng, m, i))
    tensors['output_norm.weight'] = gain(rng, m['hidden'])
    if m.get('untied'):
        tensors['output.weight'] = rnd(rng, VOCAB, m['hidden'], 2.0)
    for k, t in tensors.items():
        w.add_tensor(k, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def reference(binary, name, m, path, out_dir):
    out = out_dir / f'{name}.logits.f32'
    cmd = [binary, str(path), str(out), ','.join(map(str, TOKENS))]
    # llama.cpp's llama graph has no sliding window: the program emulates it through the KV cache (see llama-logits.cpp)
    if 'window' in m and m['arch'] == 'llama':
        cmd += ['--window', str(m['window'])]
    subprocess.run(cmd, check=True)
    return ' '.join(['llama-logits', path.name, out.name, *cmd[3:]])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--vocab-from', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--llama-logits')
    ap.add_argument('--only', nargs='*')
    args = ap.parse_args()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = read_vocab(args.vocab_from)
    manifest = {'tokens': TOKENS, 'vocab': VOCAB, 'models': {}}
    for name, m in MODELS.items():
        if args.only and name not in args.only:
            continue
        path = build(name, m, vocab, out_dir)
        entry = {'gguf': path.name, 'hparams': m}
        if args.llama_logits:
            entry['command'] = reference(args.llama_logits, name, m, path, out_dir)
            entry['logits'] = f'{name}.logits.f32'
        manifest['models'][name] = entry
        print(name, path.stat().st_size, 'bytes')
    mf = out_dir / 'manifest.json'
    if args.only and mf.exists():
        old = json.loads(mf.read_text())
        old['models'].update(manifest['models'])
        manifest = old
    mf.write_text(json.dumps(manifest, indent=1) + '\n')


if __name__ == '__main__':
    main()
