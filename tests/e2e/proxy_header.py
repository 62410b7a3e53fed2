"""PROXY protocol headers (HAProxy's doc/proxy-protocol.txt, versions 1
and 2) for the end-to-end tests, built and read by the specification alone,
never by the daemon's code: v1(), v1_unknown(), v2(), v2_local(), v2_raw()
(any bytes, for malformed headers), tlv() and v2_with_crc32c() build them;
parse() reads the header at the start of what a backend received, strictly
(whatever the specification does not allow raises Invalid), and tells a
complete header from one that needs more bytes."""

import collections
import ipaddress
import re
import socket

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MAX = 107                     # the longest v1 header, CRLF included
LOCAL, PROXY = 0x0, 0x1          # v2 commands
AF_UNSPEC, TCP4, TCP6 = 0x00, 0x11, 0x21     # v2 family and transport bytes
PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C, PP2_TYPE_NOOP = 0x01, 0x02, 0x03, 0x04
PP2_TYPE_UNIQUE_ID = 0x05


def v1(source, destination):
    """"PROXY TCP4|TCP6 SRC DST SPORT DPORT\\r\\n"; SOURCE, DESTINATION: (host, port)."""
    (sh, sp), (dh, dp) = source, destination
    proto = "TCP6" if ":" in sh else "TCP4"
    return f"PROXY {proto} {sh} {dh} {sp} {dp}\r\n".encode("ascii")


def v1_unknown(rest=""):
    """"PROXY UNKNOWN" + REST + CRLF (the receiver ignores REST)."""
    return f"PROXY UNKNOWN{rest}\r\n".encode("ascii")


def tlv(kind, value):
    return bytes([kind]) + len(value).to_bytes(2, "big") + value


def v2_raw(ver_cmd, family, block, length=None):
    """The signature, the 13th (version and command) and 14th (family and
    transport) bytes as given, LENGTH (default: the block's), the block."""
    if length is None:
        length = len(block)
    return V2_SIGNATURE + bytes([ver_cmd, family]) + length.to_bytes(2, "big") + block


def address_block(source, destination):
    """(the v2 address block of SOURCE and DESTINATION, the family byte)."""
    (sh, sp), (dh, dp) = source, destination
    af = socket.AF_INET6 if ":" in sh else socket.AF_INET
    block = (socket.inet_pton(af, sh) + socket.inet_pton(af, dh)
             + sp.to_bytes(2, "big") + dp.to_bytes(2, "big"))
    return block, (TCP6 if af == socket.AF_INET6 else TCP4)


def v2(source, destination, tlvs=b""):
    """A v2 PROXY header over TCP4 or TCP6 (SOURCE's family), then TLVS."""
    block, family = address_block(source, destination)
    return v2_raw(0x20 | PROXY, family, block + tlvs)


def v2_local(block=b"", family=AF_UNSPEC):
    """A v2 LOCAL header; its family and block are for the receiver to skip."""
    return v2_raw(0x20 | LOCAL, family, block)


def crc32c(data):
    """CRC-32C (Castagnoli), as RFC 4960 appendix B, which section 2.2.3 names."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def v2_with_crc32c(source, destination, tlvs=b""):
    """v2() with TLVS and a last PP2_TYPE_CRC32C TLV holding the checksum of
    the whole header computed with that field zero (section 2.2.3)."""
    zeroed = v2(source, destination, tlvs + tlv(PP2_TYPE_CRC32C, bytes(4)))
    return zeroed[:-4] + crc32c(zeroed).to_bytes(4, "big")


# --------------------------------------------------------------------------
# Reading, strictly

Header = collections.namedtuple("Header", "version command source destination tlvs length")
Header.__doc__ = """A parsed header.  command: "PROXY" (v1 TCP4/TCP6, v2 PROXY),
"UNKNOWN" (v1) or "LOCAL" (v2); source and destination: (address in its
normal text form, port), None when the header gives none (v1 UNKNOWN, v2
LOCAL, v2 PROXY UNSPEC); tlvs: [(type, value)]; length: bytes of the header."""


class Invalid(Exception):
    """Bytes that can never begin a valid PROXY header."""


def addr(host, port):
    """(HOST in its normal text form, PORT): how parse() writes addresses."""
    return (str(ipaddress.ip_address(host)), port)


_V1_IPV4 = re.compile(r"(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}")
_V1_IPV6 = re.compile(r"[0-9A-Fa-f:]+")       # groups of hex digits, one "::" at most
_V1_PORT = re.compile(r"0|[1-9][0-9]{0,4}")    # decimal, no heading zero


def _v1_address(text, proto):
    if proto == "TCP4":
        if not _V1_IPV4.fullmatch(text) or any(int(p) > 255 for p in text.split(".")):
            raise Invalid(f"v1: bad IPv4 address {text!r}")
        return str(ipaddress.IPv4Address(text))
    if not _V1_IPV6.fullmatch(text):
        raise Invalid(f"v1: bad IPv6 address {text!r}")
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise Invalid(f"v1: bad IPv6 address {text!r}") from None


def _v1_port(text):
    if not _V1_PORT.fullmatch(text) or int(text) > 65535:
        raise Invalid(f"v1: bad port {text!r}")
    return int(text)


def _parse_v1(data):
    n = min(len(data), 6)
    if data[:n] != b"PROXY "[:n]:
        raise Invalid("v1: bad signature")
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX:
            raise Invalid("v1: no CRLF within 107 bytes")
        if b"\n" in data or b"\r" in data[:-1]:
            raise Invalid("v1: CR or LF alone")
        return None
    line = data[:end]
    if b"\r" in line or b"\n" in line:
        raise Invalid("v1: CR or LF alone")
    try:
        words = line.decode("ascii").split(" ")
    except UnicodeDecodeError:
        raise Invalid("v1: not US-ASCII") from None
    if words[1] == "UNKNOWN":
        return Header(1, "UNKNOWN", None, None, [], end + 2)
    if words[1] not in ("TCP4", "TCP6") or len(words) != 6:
        raise Invalid(f"v1: bad line {line!r}")
    source = (_v1_address(words[2], words[1]), _v1_port(words[4]))
    destination = (_v1_address(words[3], words[1]), _v1_port(words[5]))
    return Header(1, "PROXY", source, destination, [], end + 2)


def parse_tlvs(data):
    """[(type, value)] of a TLV area, which they must fill exactly."""
    out, i = [], 0
    while i < len(data):
        if len(data) - i < 3:
            raise Invalid(f"v2: {len(data) - i} bytes left after the TLVs, not a TLV")
        size = int.from_bytes(data[i + 1:i + 3], "big")
        if i + 3 + size > len(data):
            raise Invalid(f"v2: TLV of type {data[i]:#x} overruns the header by "
                          f"{i + 3 + size - len(data)} bytes")
        out.append((data[i], data[i + 3:i + 3 + size]))
        i += 3 + size
    return out


def _parse_v2(data):
    n = min(len(data), 12)
    if data[:n] != V2_SIGNATURE[:n]:
        raise Invalid("v2: bad signature")
    if len(data) >= 13:
        if data[12] >> 4 != 2:
            raise Invalid(f"v2: version {data[12] >> 4}")
        if data[12] & 0xF not in (LOCAL, PROXY):
            raise Invalid(f"v2: command {data[12] & 0xF}")
    if len(data) < 16:
        return None
    length = 16 + int.from_bytes(data[14:16], "big")
    if len(data) < length:
        return None
    block = data[16:length]
    if data[12] & 0xF == LOCAL:
        return Header(2, "LOCAL", None, None, [], length)
    family = data[13]
    if family == AF_UNSPEC:
        return Header(2, "PROXY", None, None, [], length)
    if family == TCP4:
        af, size = socket.AF_INET, 4
    elif family == TCP6:
        af, size = socket.AF_INET6, 16
    else:
        raise Invalid(f"v2: family and transport {family:#04x}, not TCP over IPv4 or IPv6")
    if len(block) < 2 * size + 4:
        raise Invalid(f"v2: an address block of {len(block)} bytes for {family:#04x}")
    ports = block[2 * size:2 * size + 4]
    source = addr(socket.inet_ntop(af, block[:size]), int.from_bytes(ports[:2], "big"))
    destination = addr(socket.inet_ntop(af, block[size:2 * size]), int.from_bytes(ports[2:], "big"))
    return Header(2, "PROXY", source, destination, parse_tlvs(block[2 * size + 4:]), length)


def parse(data):
    """The header at the start of DATA: a Header once complete, None while
    more bytes are needed; Invalid as soon as the bytes prove it wrong."""
    if not data:
        return None
    if data[0] == V2_SIGNATURE[0]:
        return _parse_v2(data)
    if data[0] == ord("P"):
        return _parse_v1(data)
    raise Invalid(f"no PROXY signature: {data[:16]!r}")
