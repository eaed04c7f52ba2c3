#!/usr/bin/env python3
"""Prints a GGUF file's header, metadata (arrays summarised) and tensor table.
Written from the GGUF spec with only the standard library, as a second reader
independent of cpu_llm's C++ one."""
import struct, sys

SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
NAMES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"]
GGML = {0: ("F32", 4), 1: ("F16", 2), 30: ("BF16", 2)}

def main(path):
    b = open(path, "rb").read()
    pos = 0
    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, b, pos)[0]
        pos += struct.calcsize(fmt)
        return v
    def string():
        nonlocal pos
        n = take("<Q")
        s = b[pos:pos + n].decode("utf-8")
        pos += n
        return s
    def value(t):
        return string() if t == 8 else take(SCALARS[t])
    assert b[:4] == b"GGUF", "bad magic"
    pos = 4
    version, n_t, n_kv = take("<I"), take("<Q"), take("<Q")
    print(f"GGUF v{version}: {n_t} tensors, {n_kv} metadata entries, {len(b)} bytes")
    align = 32
    for _ in range(n_kv):
        key, t = string(), take("<I")
        if t == 9:
            et, n = take("<I"), take("<Q")
            vals = [value(et) for _ in range(n)]
            shown = ", ".join(repr(v) for v in vals[:3])
            print(f"  {key}: array of {n} {NAMES[et]} [{shown}{', ...' if n > 3 else ''}]")
        else:
            v = value(t)
            if key == "general.alignment":
                align = v
            print(f"  {key}: {NAMES[t]} {v!r}")
    infos = []
    for _ in range(n_t):
        name, nd = string(), take("<I")
        dims = [take("<Q") for _ in range(nd)]
        infos.append((name, dims, take("<I"), take("<Q")))
    data = (pos + align - 1) // align * align
    end = data
    for name, dims, t, off in infos:
        n = 1
        for d in dims:
            n *= d
        tn, size = GGML[t]
        assert off % align == 0 and data + off + n * size <= len(b), name
        end = max(end, data + off + n * size)
        print(f"  {name:28s} {tn:4s} {dims} @ {off}")
    print(f"data section at {data}, last tensor ends at {end} of {len(b)}")

if __name__ == "__main__":
    main(sys.argv[1])
