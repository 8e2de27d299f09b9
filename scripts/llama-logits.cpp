// llama-logits: load a GGUF with libllama, evaluate a fixed token sequence, write every position's logits.
//
//   llama-logits MODEL.gguf OUT.bin IDS [--window W]
//
// IDS is a comma-separated list of token ids. OUT.bin receives n_tokens × n_vocab float32 values
// (little-endian, row t = the logits after token t). The context runs on the CPU with an F32 KV cache and
// flash attention off, so the only differences from a float32 reference are float32 round-off (and
// llama.cpp's own approximations, e.g. its fp16-table GELU).
//
// Default: the whole sequence is one batch (llama.cpp's causal mask, and its sliding-window mask for
// architectures where llama.cpp applies one). With --window W the tokens are decoded one at a time and,
// before token p is decoded, the cache positions [0, p − W + 1) are removed (llama_memory_seq_rm): query p
// then attends to the positions p − W + 1 .. p only, the sliding-window mask of transformers
// (key j visible from query p iff p − j < W). Keys and values already in the cache were computed when their
// own token was decoded under the same rule, so this is the windowed model exactly; it gives llama.cpp's
// kernels a window for architectures (llama with a Mistral sliding_window) whose graphs have none.
//
// Build (static libs from llama.cpp's CMake build; see test/fixtures/arch/README.md):
//   B=/work/main/.cache/llama-cpp/src/build S=/work/main/.cache/llama-cpp/src
//   g++ -O2 -std=c++17 scripts/llama-logits.cpp -I$S/include -I$S/ggml/include \
//     $B/src/libllama.a $B/ggml/src/libggml.a $B/ggml/src/libggml-cpu.a $B/ggml/src/libggml-base.a \
//     -fopenmp -lpthread -ldl -o /tmp/llama-logits
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static void quiet_log(enum ggml_log_level level, const char * text, void *) {
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static std::vector<llama_token> parse_ids(const char * s) {
    std::vector<llama_token> ids;
    std::string cur;
    for (const char * p = s;; ++p) {
        if (*p == ',' || *p == '\0') {
            if (!cur.empty()) ids.push_back((llama_token) std::atoi(cur.c_str()));
            cur.clear();
            if (*p == '\0') break;
        } else {
            cur.push_back(*p);
        }
    }
    return ids;
}

static bool decode(llama_context * ctx, const std::vector<llama_token> & ids, int first, int count) {
    llama_batch batch = llama_batch_init(count, 0, 1);
    for (int i = 0; i < count; ++i) {
        batch.token[i] = ids[first + i];
        batch.pos[i] = first + i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = count;
    const int rc = llama_decode(ctx, batch);
    llama_batch_free(batch);
    return rc == 0;
}

int main(int argc, char ** argv) {
    if (argc != 4 && !(argc == 6 && std::strcmp(argv[4], "--window") == 0)) {
        fprintf(stderr, "usage: %s MODEL.gguf OUT.bin ID,ID,... [--window W]\n", argv[0]);
        return 2;
    }
    const std::vector<llama_token> ids = parse_ids(argv[3]);
    const int window = argc == 6 ? std::atoi(argv[5]) : 0;
    const int n = (int) ids.size();
    if (n == 0) { fprintf(stderr, "no token ids\n"); return 2; }

    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "%s: cannot load\n", argv[1]); return 1; }

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t) (n < 64 ? 64 : n);
    cp.n_batch = cp.n_ctx;
    cp.n_ubatch = cp.n_ctx;
    cp.n_seq_max = 1;
    cp.n_threads = 1;
    cp.n_threads_batch = 1;
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.swa_full = true;
    cp.no_perf = true;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "cannot create a context\n"); return 1; }

    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    std::vector<float> out((size_t) n * n_vocab);
    if (window <= 0) {
        if (!decode(ctx, ids, 0, n)) { fprintf(stderr, "llama_decode failed\n"); return 1; }
        for (int t = 0; t < n; ++t) std::memcpy(&out[(size_t) t * n_vocab], llama_get_logits_ith(ctx, t), sizeof(float) * n_vocab);
    } else {
        for (int p = 0; p < n; ++p) {
            if (p - window + 1 > 0) llama_memory_seq_rm(llama_get_memory(ctx), 0, 0, p - window + 1);
            if (!decode(ctx, ids, p, 1)) { fprintf(stderr, "llama_decode failed at %d\n", p); return 1; }
            std::memcpy(&out[(size_t) p * n_vocab], llama_get_logits_ith(ctx, 0), sizeof(float) * n_vocab);
        }
    }
    FILE * f = std::fopen(argv[2], "wb");
    if (!f || std::fwrite(out.data(), sizeof(float), out.size(), f) != out.size()) { fprintf(stderr, "%s: cannot write\n", argv[2]); return 1; }
    std::fclose(f);
    printf("%d tokens x %d logits -> %s\n", n, n_vocab, argv[2]);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
