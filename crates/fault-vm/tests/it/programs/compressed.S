# RV32C, spelled out (the assembler also compresses the other programs where it can).
    .include "prologue.inc"
    c.li a0, -32
    c.li a1, 31
    c.addi a0, 5
    c.lui a2, 0x1f
    c.lui a3, 0xfffe1
    c.mv a4, a0
    c.add a4, a1
    c.sub a4, a0
    c.xor a4, a1
    c.or a4, a0
    c.and a4, a1
    c.andi a0, -3
    c.slli a1, 31
    c.srli a1, 4
    c.srai a3, 3
    c.addi4spn a5, sp, 8
    c.addi16sp sp, 496
    c.addi16sp sp, -496
    c.sw a0, 4(a5)
    c.swsp a1, 252(sp)
    c.lwsp s0, 252(sp)
    addi a5, sp, 64
    c.sw a1, 124(a5)
    c.lw s1, 124(a5)
    c.li a2, 0
    c.beqz a2, 1f
    c.li a2, 7
1:  c.bnez a2, 1f
    c.li a2, 9
1:  c.j 1f
    c.li a2, 11
1:  c.jal 1f
    c.li a2, 13
1:  la s2, 1f
    c.jalr s2
    c.li a3, 1
1:  la s3, 1f
    c.jr s3
    c.li a3, 2
1:  sub ra, ra, s2            # links relative to the code
    c.nop
    j dump
    .include "epilogue.inc"
