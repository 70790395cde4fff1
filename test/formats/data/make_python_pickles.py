"""Writes python_pickles.json: pickles made by CPython's own `pickle` module, and what
CPython's unpickler reads back from them, as the oracle for test/formats/pickle-python.test.ts.

Run from this folder with any Python 3.8+ (the committed file was made with CPython 3.11.7):

    python3 make_python_pickles.py > python_pickles.json

Each case holds the pickle as hex and `expect`, a tagged description of the value
`pickle.loads(data, encoding='latin1')` returns (torch.load reads with latin1 too):
None/bool as JSON, ["int", decimal], ["float", repr], ["str", s], ["bytes", hex],
["list", [...]], ["tuple", [...]], ["dict", [[k, v]...]], ["odict", [[k, v]...]],
["set", [...]] (sorted by repr), ["obj", "module.Class", {attr: value}].
Hand-written cases cover opcodes CPython 3 no longer writes (Python 2 strings, INST, OBJ...).
"""
import collections
import json
import pickle
import pickletools
import sys


class Thing:
    """A class the unpickler does not know: it must come back as an inert object with its attributes."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class Slotted:
    """BUILD with a (dict, slots) state tuple."""

    __slots__ = ('s', '__dict__')


def describe(v):
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return ['int', str(v)]
    if isinstance(v, float):
        return ['float', repr(v)]
    if isinstance(v, str):
        return ['str', v]
    if isinstance(v, (bytes, bytearray)):
        return ['bytes', bytes(v).hex()]
    if isinstance(v, list):
        return ['list', [describe(x) for x in v]]
    if isinstance(v, tuple):
        return ['tuple', [describe(x) for x in v]]
    if isinstance(v, collections.OrderedDict):
        return ['odict', [[describe(k), describe(x)] for k, x in v.items()]]
    if isinstance(v, dict):
        return ['dict', [[describe(k), describe(x)] for k, x in v.items()]]
    if isinstance(v, (set, frozenset)):
        return ['set', sorted((describe(x) for x in v), key=repr)]
    if isinstance(v, (Thing, Slotted)):
        attrs = dict(getattr(v, '__dict__', {}))
        if isinstance(v, Slotted) and hasattr(v, 's'):
            attrs['s'] = v.s
        return ['obj', f'__main__.{type(v).__name__}', {k: describe(x) for k, x in attrs.items()}]
    raise TypeError(type(v))


def slotted():
    o = Slotted()
    o.s = 'slot'
    o.d = 1
    return o


VALUES = {
    'scalars': [None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -65536, 2**31 - 1, -2**31, 2**31, 2**53, 2**63, -2**64 - 1],
    'floats': [0.0, -0.0, 2.5, -1e-300, 1.7976931348623157e308, float('inf'), float('-inf'), 0.1],
    'strings': ['', 'a', 'tab\tnew\nline', 'back\\slash', 'é', 'Ω', '\U0001F600', 'x' * 300],
    'bytes': [b'', b'\x00\xff abc', bytes(range(256)), bytearray(b'ba')],
    'containers': [[], [1, [2, [3]]], (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), {}, {'a': 1, 2: 'b', (1, 2): None}],
    'sets': [set(), {1, 2, 3}, frozenset(), frozenset({'a', 'b'})],
    'ordered': [collections.OrderedDict([('w', 1), ('b', [1.5])])],
    'shared': [(lambda l: [l, l, {'k': l}])([7])],
    'objects': [Thing(x=1, name='n'), [Thing(), Thing(a=(1,))], slotted()],
    'long_int': [2**2100, -(2**2100) + 12345],
    'long_list': [list(range(1001))],  # APPENDS batches of 1000
}

cases = []
for group, values in VALUES.items():
    for i, v in enumerate(values):
        for proto in range(0, 6):
            if isinstance(v, Slotted) and proto < 2:
                continue  # CPython cannot pickle __slots__ objects below protocol 2
            data = pickle.dumps(v, protocol=proto)
            back = pickle.loads(data, encoding='latin1')
            cases.append({'name': f'{group}[{i}] protocol {proto}', 'hex': data.hex(), 'expect': describe(back)})

# Opcodes CPython 3 does not write; what CPython reads from them is the oracle.
HAND = {
    'STRING (Python 2 str)': b"S'abc'\n.",
    'STRING with double quotes': b'S"q"\n.',
    'SHORT_BINSTRING latin-1': b'\x80\x02U\x03a\xe9b.',
    'BINSTRING': b'\x80\x02T\x03\x00\x00\x00xyz.',
    'INT booleans 01 00': b'(I01\nI00\nI-7\nt.',
    'LONG text with L': b'L123456789012345678901234567890L\n.',
    'LONG text without L': b'L-42\n.',
    'INST __main__.Thing': b'(i__main__\nThing\n(dp0\nVx\np1\nI1\nsb.',
    'OBJ __main__.Thing': b'(c__main__\nThing\no}(Vy\nI2\nub.',
    'NEWOBJ_EX with kwargs': b'\x80\x04\x8c\x08__main__\x8c\x05Thing\x93)}\x92}\x8c\x01z\x4b\x03sb.',
    'PUT GET text memo': b'((lp0\nI5\nag0\nt.',
    'LONG_BINPUT LONG_BINGET': b'\x80\x02(]r\x00\x01\x00\x00K\x01aj\x00\x01\x00\x00t.',
    'POP and POP_MARK and DUP': b'\x80\x02K\x010(K\x02K\x031K\x042\x86.',
    'UNICODE raw-unicode-escape': b'V\\u00e9\\u005cx\n.',
    'FROZENSET opcode': b'\x80\x04(K\x01K\x02\x91.',
    'LONG4': b'\x80\x02\x8b\x02\x00\x00\x00\x00\x01.',
    'LONG1 zero length': b'\x80\x02\x8a\x00.',
    'SETITEM on dict': b'\x80\x02}K\x01K\x02s.',
    'APPEND on list': b'\x80\x02]K\x01a.',
    'dict via DICT opcode': b'(K\x01K\x02d.',
    'list via LIST opcode': b'(K\x01K\x02l.',
    'tuple via TUPLE opcode': b'(K\x01K\x02t.',
    'BINBYTES8 and BINUNICODE8': b'\x80\x04\x8e\x02\x00\x00\x00\x00\x00\x00\x00hi\x8d\x01\x00\x00\x00\x00\x00\x00\x00z\x86.',
    'BINBYTES': b'\x80\x03B\x02\x00\x00\x00ok.',
    'OrderedDict with items argument': b'\x80\x02ccollections\nOrderedDict\n]](K\x01K\x02ea\x85R.',
    'builtins.set called with a list': b'\x80\x02c__builtin__\nset\n](K\x01K\x02e\x85R.',
    'builtins.set called with a dict (its keys)': b'\x80\x02c__builtin__\nset\n}(K\x01K\x02u\x85R.',
    'builtins.frozenset called with a set': b'\x80\x04cbuiltins\nfrozenset\n\x8f(K\x01\x90\x85R.',
    'builtins.list called empty': b'\x80\x02c__builtin__\nlist\n)R.',
    'builtins.tuple called with a list': b'\x80\x02c__builtin__\ntuple\n](K\x01K\x02e\x85R.',
    'builtins.dict called': b'\x80\x02c__builtin__\ndict\n)R.',
    'builtins.bytearray called with bytes': b'\x80\x03cbuiltins\nbytearray\nC\x02ab\x85R.',
    'builtins.bytes called empty': b'\x80\x03cbuiltins\nbytes\n)R.',
    '_codecs.encode latin-1 spelling': b'\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00\xc3\xa9X\x07\x00\x00\x00latin-1\x86R.',
    'copy_reg._reconstructor (Python 2 spelling)': b'ccopy_reg\n_reconstructor\n(c__main__\nThing\nc__builtin__\nobject\nNtR(dVk\nI9\nsb.',
    'BUILD with (None, slots) state': b'\x80\x02c__main__\nThing\n)\x81N}X\x01\x00\x00\x00sK\x05s\x86b.',
}
for name, data in HAND.items():
    pickletools.dis(data, out=open('/dev/null', 'w'))  # must be well-formed
    back = pickle.loads(data, encoding='latin1')
    cases.append({'name': name, 'hex': data.hex(), 'expect': describe(back)})

json.dump({'python': sys.version.split()[0], 'cases': cases}, sys.stdout, indent=0)
sys.stdout.write('\n')
