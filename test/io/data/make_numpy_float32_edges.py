"""Writes numpy_float32_edges.tsv: float32 values where the shortest round-trip decimal is
hard to get right, printed the way numpy 1.24's str(numpy.float32) prints them (what
VirNucPro's prediction_results.txt holds), as the oracle for test/io/results.test.ts.

    python3 make_numpy_float32_edges.py > numpy_float32_edges.tsv   (committed file: numpy 2.4.6)

numpy 2 prints float32 in scientific notation from 1e6 on, numpy 1.24 only from 1e16, with the
same digits; so each line is built from numpy's own shortest digits (format_float_positional /
format_float_scientific with unique=True) using the 1.24 rule, and checked against str() where
both versions agree (|x| < 1e6).

Families:
- every power of two (normal and subnormal) and its two float32 neighbours: just above a power
  of two the gap below is half the gap above, so the round-trip interval is lopsided;
- values with a decimal exactly on an end of their round-trip interval, at or before the
  shortest length: round-half-to-even decides whether it reads back (found with exact fractions);
- values whose shortest decimal has fewer digits than its integer part (padding with zeros).
"""
import random
import struct
import sys
from fractions import Fraction

import numpy as np


def f32_from_bits(b):
    return np.frombuffer(struct.pack('<I', b), dtype=np.float32)[0]


def bits_of(x):
    return struct.unpack('<I', struct.pack('<f', float(x)))[0]


def numpy124(x):
    v = np.float32(x)
    ax = abs(float(v))
    if ax != 0 and (ax < 1e-4 or ax >= 1e16):
        s = np.format_float_scientific(v, unique=True, trim='-', exp_digits=2)
    else:
        s = np.format_float_positional(v, unique=True, trim='0')
    if ax < 1e6:
        assert s == str(v), (s, str(v))
    return s


def interval(b):
    """Exact value of the float32 with bits b (positive, finite), and its round-trip interval."""
    e_bits = (b >> 23) & 0xFF
    frac = b & 0x7FFFFF
    if e_bits == 0:
        m, e = frac, -149
    else:
        m, e = frac | 0x800000, e_bits - 150
    x = Fraction(m) * Fraction(2) ** e
    hi = (Fraction(2 * m + 1)) * Fraction(2) ** (e - 1)
    if frac == 0 and e_bits > 1:
        lo = Fraction(4 * m - 1) * Fraction(2) ** (e - 2)
    else:
        lo = Fraction(2 * m - 1) * Fraction(2) ** (e - 1)
    return x, lo, hi, m % 2 == 0


def boundary_decimal(b):
    """True when, at or before the shortest length that reads back, a decimal lies exactly on an
    end of the round-trip interval: accepted there when the mantissa is even, rejected when odd."""
    x, lo, hi, even = interval(b)
    for p in range(1, 10):
        exp10 = len(str(int(x))) - 1 if x >= 1 else -len(str(int(1 / x)))
        on_boundary = inside = False
        for shift in (0, 1, -1):
            k = exp10 + shift - (p - 1)
            scale = Fraction(10) ** k
            base = int(x / scale)
            for d in (base - 1, base, base + 1, base + 2):
                if d <= 0 or len(str(d)) != p:
                    continue
                v = d * scale
                on_boundary = on_boundary or v == lo or v == hi
                inside = inside or lo < v < hi or (even and (v == lo or v == hi))
        if on_boundary:
            return True
        if inside:
            return False
    return False


values = set()
for e_bits in range(0, 255):
    b = e_bits << 23
    for d in (-1, 0, 1):
        if 0 < b + d < 0x7F800000:
            values.add(b + d)
for k in range(23):  # subnormal powers of two
    values.add(1 << k)
rng = random.Random(20261130)
boundary = []
for e_bits in range(151, 254):  # gaps of 2 and more: interval ends can be short decimals
    for _ in range(400):
        b = (e_bits << 23) | rng.randrange(1 << 23)
        if boundary_decimal(b):
            boundary.append(b)
# 33562408, 33594312, 33574372: the nearest 7-digit decimal is a float32 halfway point (above, below; even, odd).
for b in (bits_of(134217792.0), bits_of(33562408.0), bits_of(33594312.0), bits_of(33574372.0), bits_of(120.0), bits_of(1200000.0), bits_of(1.5e9), bits_of(9.999999e15), bits_of(123456790.0)):
    values.add(b)
values.update(boundary)

print('# float32 bit pattern (hex)\tstr(numpy.float32) as numpy 1.24 prints it -- see make_numpy_float32_edges.py')
for b in sorted(values):
    x = f32_from_bits(b)
    print(f'{b:08x}\t{numpy124(x)}')
    print(f'{b | 0x80000000:08x}\t{numpy124(-x)}')
print(f'# {len(boundary)} values with a decimal on an interval end', file=sys.stderr)
