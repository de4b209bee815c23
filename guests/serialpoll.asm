; Benchmark: COM1 output polling LSR before each byte (see serialbench.inc).
%define POLL 1
%include "serialbench.inc"
