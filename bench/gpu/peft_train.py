"""PEFT + torch reference for bench/gpu/train.ts (issue 27): LoRA steps on a random-weight Llama of the
shape train.ts wrote (--shape-out), bf16 base and compute as PEFT users run it, AdamW on the adapter,
batch x seq random tokens, the same rank and targets. Prints one JSON line: tokens/s and peak GPU memory."""
import json
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM


def main(path: str, steps: int) -> None:
    s = json.load(open(path))
    cfg = LlamaConfig(
        vocab_size=s["vocab_size"], hidden_size=s["hidden_size"], intermediate_size=s["intermediate_size"],
        num_hidden_layers=s["num_layers"], num_attention_heads=s["num_heads"], num_key_value_heads=s["num_kv_heads"],
        max_position_embeddings=max(4096, s["seq"]), rms_norm_eps=s["rms_norm_eps"], rope_theta=s["rope_theta"],
        tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model = get_peft_model(model, LoraConfig(r=s["rank"], lora_alpha=2 * s["rank"], target_modules=s["targets"], lora_dropout=0.0))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, s["vocab_size"], (s["batch"], s["seq"]), device="cuda")

    def step() -> float:
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(out.loss)

    step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    print(json.dumps({
        "peft_tok_per_s": round(steps * s["batch"] * s["seq"] / secs), "step_ms": round(1000 * secs / steps),
        "peak_mib": round(torch.cuda.max_memory_allocated() / 2**20), "loss": loss, "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4)
