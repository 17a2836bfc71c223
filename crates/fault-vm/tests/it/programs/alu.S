# RV32I arithmetic, logic, shifts, compares, lui/auipc, with the edge values.
    .include "prologue.inc"
    li s0, 0x80000000
    li s1, 0x7fffffff
    li s2, -1
    li s3, 5
    add a0, s0, s2
    sub a1, s0, s3
    sll a2, s2, s3
    slt a3, s0, s1
    sltu a4, s0, s1
    xor a5, s0, s2
    srl a6, s0, s3
    sra a7, s0, s3
    or t0, s1, s3
    and t1, s2, s3
    addi t2, s1, 1
    slti t3, s2, 0
    sltiu t4, s3, -1
    xori t5, s3, -2048
    ori s4, zero, 2047
    andi s5, s2, -256
    slli s6, s3, 31
    srli s7, s0, 31
    srai s8, s0, 31
    li s9, 0x12345678
    sll s10, s9, s2          # shift amounts are the low 5 bits
    lui s11, 0xfffff
    auipc tp, 0x1
    sub gp, tp, t6           # auipc's value relative to the data, the same in both
    addi x0, s3, 1           # x0 stays 0
    j dump
    .include "epilogue.inc"
