; Benchmark: COM1 output without polling (see serialbench.inc).
%define POLL 0
%include "serialbench.inc"
