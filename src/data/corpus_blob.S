// The bundled corpus (gzip of the King James Bible text), linked into the
// binary so the default run needs no data files.
    .section .rodata
    .global cpu_llm_corpus_gz_begin
    .global cpu_llm_corpus_gz_end
    .balign 16
cpu_llm_corpus_gz_begin:
    .incbin CORPUS_GZ_PATH
cpu_llm_corpus_gz_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
