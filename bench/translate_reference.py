"""The original VirNucPro translate stages, restated for the benchmark only.

Same operations as units.split_fasta_chunk + make_predictdata's identify loop:
Biopython SeqIO parse/write, a Python dict codon table, str slicing. Usage:
python3 translate_reference.py INPUT.fa EXPECTED_LENGTH OUTDIR

Prints one JSON line to stdout: {"seconds": ..., "cpu_seconds": ...}, the wall
and CPU time of this process from after the imports (interpreter and
Biopython start-up excluded) to the last byte written.
"""
import json
import sys
import time

from Bio import SeqIO

CODONS = {}
_aa = 'KNKNTTTTRSRSIIMIQHQHPPPPRRRRLLLLEDEDAAAAGGGGVVVV*Y*YSSSS*CWCLFLF'
_b = 'ACGT'
for i, a in enumerate(_aa):
    CODONS[_b[i // 16] + _b[(i // 4) % 4] + _b[i % 4]] = a
COMP = str.maketrans('ACGTacgt', 'TGCAtgca')


def chunk_file(inp, out, size):
    with open(out, 'w') as h:
        for rec in SeqIO.parse(inp, 'fasta'):
            n = len(rec.seq)
            k = -(-n // size)
            rep = k * size - n
            lo = int(rep / k)
            need = rep - lo * (k - 1)
            steps = [lo + 1] * need + [lo] * (k - 1 - need) + [0]
            move = 0
            for a, b in zip(range(0, n, size), steps):
                c = rec[a - move:a - move + size] if a > 1 else rec[a:a + size]
                c.id = f'{rec.id}_chunk_{a // size + 1}'
                c.description = ''
                SeqIO.write(c, h, 'fasta')
                move += b


def frames(seq):
    rc = seq.translate(COMP)[::-1]
    for num, s, f in ((1, seq, 0), (2, seq, 1), (3, seq, 2), (4, rc, 0), (5, rc, 1), (6, rc, 2)):
        prot = ''.join(CODONS.get(s[i:i + 3], '') for i in range(f, len(s) - 2, 3))
        if '*' in prot or not prot:
            continue
        suffix = ('F' if num <= 3 else 'R') + str(f + 1)
        yield suffix, s[f:f + 1 + 3 * len(prot)], prot


def main():
    inp, size, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    t0 = time.perf_counter()
    c0 = time.process_time()
    chunked = f'{outdir}/ref_chunked{size}.fa'
    chunk_file(inp, chunked, size)
    with open(f'{outdir}/ref_identified_nucleotide.fa', 'w') as dna, open(f'{outdir}/ref_identified_protein.faa', 'w') as pro:
        for rec in SeqIO.parse(chunked, 'fasta'):
            seq = str(rec.seq).upper()
            for suffix, nt, aa in frames(seq):
                dna.write(f'>{rec.id}{suffix}\n{nt}\n')
                pro.write(f'>{rec.id}{suffix}\n{aa}\n')
    print(json.dumps({'seconds': time.perf_counter() - t0, 'cpu_seconds': time.process_time() - c0}))


main()
