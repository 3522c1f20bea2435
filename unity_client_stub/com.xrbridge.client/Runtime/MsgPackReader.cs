// Hand-written msgpack reader: no reflection, no run-time code generation,
// so it runs unchanged under IL2CPP on HoloLens 2 (ARM64 UWP).
//
// Decodes into plain objects: null, bool, long, ulong (only above long.MaxValue),
// double, string, byte[], List<object>, Dictionary<string, object>.
// Every length is checked against the bytes left, nesting is bounded, and any
// violation throws MsgPackException (never an IndexOutOfRange deep inside).
using System;
using System.Collections.Generic;
using System.Text;

namespace Xrbridge
{
    public sealed class MsgPackException : Exception
    {
        public MsgPackException(string message) : base(message) { }
    }

    public sealed class MsgPackReader
    {
        public const int MaxDepth = 32;
        private readonly byte[] _buf;
        private int _pos;
        private readonly int _end;

        public MsgPackReader(byte[] buffer) : this(buffer, 0, buffer.Length) { }

        public MsgPackReader(byte[] buffer, int offset, int count)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            _buf = buffer;
            _pos = offset;
            _end = offset + count;
        }

        /// <summary>Decode one complete value; trailing bytes are an error.</summary>
        public static object Decode(byte[] data, int count)
        {
            var r = new MsgPackReader(data, 0, count);
            object v = r.Read(0);
            if (r._pos != r._end) throw new MsgPackException("extra bytes after the msgpack value");
            return v;
        }

        public static object Decode(byte[] data) { return Decode(data, data.Length); }

        private void Need(long n)
        {
            if (n < 0 || n > _end - _pos)
                throw new MsgPackException("truncated msgpack: need " + n + " bytes, " + (_end - _pos) + " left");
        }

        private byte U8() { Need(1); return _buf[_pos++]; }

        private ulong BigEndian(int n)
        {
            Need(n);
            ulong v = 0;
            for (int i = 0; i < n; i++) v = (v << 8) | _buf[_pos++];
            return v;
        }

        private string Str(long n)
        {
            Need(n);
            string s = Encoding.UTF8.GetString(_buf, _pos, (int)n);
            _pos += (int)n;
            return s;
        }

        private byte[] Bin(long n)
        {
            Need(n);
            var b = new byte[n];
            Buffer.BlockCopy(_buf, _pos, b, 0, (int)n);
            _pos += (int)n;
            return b;
        }

        private List<object> Array(long n, int depth)
        {
            Need(n); // every element takes at least one byte
            var list = new List<object>((int)n);
            for (long i = 0; i < n; i++) list.Add(Read(depth + 1));
            return list;
        }

        private Dictionary<string, object> Map(long n, int depth)
        {
            Need(2 * n);
            var map = new Dictionary<string, object>((int)n);
            for (long i = 0; i < n; i++)
            {
                var key = Read(depth + 1) as string;
                if (key == null) throw new MsgPackException("map keys must be strings");
                map[key] = Read(depth + 1);
            }
            return map;
        }

        private object Read(int depth)
        {
            if (depth > MaxDepth) throw new MsgPackException("msgpack nested deeper than " + MaxDepth);
            byte t = U8();
            if (t <= 0x7f) return (long)t;
            if (t >= 0xe0) return (long)(sbyte)t;
            if ((t & 0xf0) == 0x80) return Map(t & 0x0f, depth);
            if ((t & 0xf0) == 0x90) return Array(t & 0x0f, depth);
            if ((t & 0xe0) == 0xa0) return Str(t & 0x1f);
            switch (t)
            {
                case 0xc0: return null;
                case 0xc2: return false;
                case 0xc3: return true;
                case 0xc4: return Bin((long)BigEndian(1));
                case 0xc5: return Bin((long)BigEndian(2));
                case 0xc6: return Bin((long)BigEndian(4));
                case 0xca:
                {
                    uint bits = (uint)BigEndian(4);
                    return (double)BitConverter.ToSingle(BitConverter.GetBytes(bits), 0);
                }
                case 0xcb: return BitConverter.Int64BitsToDouble((long)BigEndian(8));
                case 0xcc: return (long)BigEndian(1);
                case 0xcd: return (long)BigEndian(2);
                case 0xce: return (long)BigEndian(4);
                case 0xcf:
                {
                    ulong u = BigEndian(8);
                    if (u <= long.MaxValue) return (long)u;
                    return u;
                }
                case 0xd0: return (long)(sbyte)BigEndian(1);
                case 0xd1: return (long)(short)BigEndian(2);
                case 0xd2: return (long)(int)BigEndian(4);
                case 0xd3: return (long)BigEndian(8);
                case 0xd9: return Str((long)BigEndian(1));
                case 0xda: return Str((long)BigEndian(2));
                case 0xdb: return Str((long)BigEndian(4));
                case 0xdc: return Array((long)BigEndian(2), depth);
                case 0xdd: return Array((long)BigEndian(4), depth);
                case 0xde: return Map((long)BigEndian(2), depth);
                case 0xdf: return Map((long)BigEndian(4), depth);
                case 0xd4: Need(2); _pos += 2; return null; // fixext: skipped
                case 0xd5: Need(3); _pos += 3; return null;
                case 0xd6: Need(5); _pos += 5; return null;
                case 0xd7: Need(9); _pos += 9; return null;
                case 0xd8: Need(17); _pos += 17; return null;
                case 0xc7: { long n = (long)BigEndian(1); Need(n + 1); _pos += (int)n + 1; return null; }
                case 0xc8: { long n = (long)BigEndian(2); Need(n + 1); _pos += (int)n + 1; return null; }
                case 0xc9: { long n = (long)BigEndian(4); Need(n + 1); _pos += (int)n + 1; return null; }
            }
            throw new MsgPackException("invalid msgpack type byte 0x" + t.ToString("x2"));
        }
    }
}
