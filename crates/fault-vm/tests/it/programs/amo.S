# RV32A: lr/sc, and every amo*.w.
    .include "prologue.inc"
    li s0, 100
    li s1, -7
    addi gp, sp, 64
    sw s0, 0(gp)
    lr.w a0, (gp)
    sc.w a1, s1, (gp)
    amoswap.w a2, s0, (gp)
    amoadd.w a3, s1, (gp)
    amoxor.w a4, s0, (gp)
    amoand.w a5, s1, (gp)
    amoor.w a6, s0, (gp)
    amomin.w a7, s1, (gp)
    amomax.w t0, s0, (gp)
    amominu.w t1, s1, (gp)
    amomaxu.w t2, s0, (gp)
    lw t3, 0(gp)
    amoadd.w.aqrl t4, s0, (gp)
    lw t5, 0(gp)
    j dump
    .include "epilogue.inc"
