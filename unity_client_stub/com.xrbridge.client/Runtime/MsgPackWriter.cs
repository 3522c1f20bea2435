// The few client messages (hello, subscribe, ping) written by hand: maps with
// string keys and str / int / bool / nil / float64 / array-of-str values.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Xrbridge
{
    public static class MsgPackWriter
    {
        public static byte[] Encode(IDictionary<string, object> map)
        {
            using (var ms = new MemoryStream())
            {
                Write(ms, map);
                return ms.ToArray();
            }
        }

        private static void BE(Stream s, ulong v, int n)
        {
            for (int i = n - 1; i >= 0; i--) s.WriteByte((byte)(v >> (8 * i)));
        }

        public static void Write(Stream s, object v)
        {
            if (v == null) { s.WriteByte(0xc0); return; }
            if (v is bool) { s.WriteByte((bool)v ? (byte)0xc3 : (byte)0xc2); return; }
            if (v is int || v is long)
            {
                long x = Convert.ToInt64(v);
                if (x >= 0 && x < 128) s.WriteByte((byte)x);
                else { s.WriteByte(0xd3); BE(s, (ulong)x, 8); }
                return;
            }
            if (v is double || v is float)
            {
                s.WriteByte(0xcb);
                BE(s, (ulong)BitConverter.DoubleToInt64Bits(Convert.ToDouble(v)), 8);
                return;
            }
            var str = v as string;
            if (str != null)
            {
                byte[] b = Encoding.UTF8.GetBytes(str);
                if (b.Length < 32) s.WriteByte((byte)(0xa0 | b.Length));
                else { s.WriteByte(0xdb); BE(s, (ulong)b.Length, 4); }
                s.Write(b, 0, b.Length);
                return;
            }
            var map = v as IDictionary<string, object>;
            if (map != null)
            {
                s.WriteByte(0xdf); BE(s, (ulong)map.Count, 4);
                foreach (var kv in map) { Write(s, kv.Key); Write(s, kv.Value); }
                return;
            }
            var list = v as System.Collections.IList;
            if (list != null)
            {
                s.WriteByte(0xdd); BE(s, (ulong)list.Count, 4);
                foreach (var item in list) Write(s, item);
                return;
            }
            throw new ArgumentException("cannot encode " + v.GetType().Name + " as msgpack");
        }
    }
}
