// The overlay schema (unity_client_stub/PROTOCOL.md, schema version 1) as plain
// C# classes, filled by hand from the decoded msgpack maps (IL2CPP-safe: no
// reflection-based serializer). Unknown keys are ignored, as the protocol asks.
using System;
using System.Collections.Generic;

namespace Xrbridge
{
    public sealed class SchemaException : Exception
    {
        public SchemaException(string message) : base(message) { }
    }

    internal static class M
    {
        public static object Get(Dictionary<string, object> m, string key, string where)
        {
            object v;
            if (!m.TryGetValue(key, out v)) throw new SchemaException(where + ": missing key '" + key + "'");
            return v;
        }

        public static string Str(Dictionary<string, object> m, string key, string where)
        {
            var v = Get(m, key, where);
            var s = v as string;
            if (s == null) throw new SchemaException(where + "." + key + ": expected str, got " + Kind(v));
            return s;
        }

        public static string OptStr(Dictionary<string, object> m, string key, string where)
        {
            object v;
            if (!m.TryGetValue(key, out v) || v == null) return null;
            var s = v as string;
            if (s == null) throw new SchemaException(where + "." + key + ": expected str or nil, got " + Kind(v));
            return s;
        }

        public static long Long(Dictionary<string, object> m, string key, string where)
        {
            var v = Get(m, key, where);
            if (v is long) return (long)v;
            throw new SchemaException(where + "." + key + ": expected int, got " + Kind(v));
        }

        public static double Num(object v, string where)
        {
            if (v is double) return (double)v;
            if (v is long) return (long)v;
            throw new SchemaException(where + ": expected a number, got " + Kind(v));
        }

        public static double Dbl(Dictionary<string, object> m, string key, string where)
        {
            return Num(Get(m, key, where), where + "." + key);
        }

        public static double? OptDbl(Dictionary<string, object> m, string key, string where)
        {
            object v;
            if (!m.TryGetValue(key, out v) || v == null) return null;
            return Num(v, where + "." + key);
        }

        public static bool Bool(Dictionary<string, object> m, string key, string where)
        {
            var v = Get(m, key, where);
            if (v is bool) return (bool)v;
            throw new SchemaException(where + "." + key + ": expected bool, got " + Kind(v));
        }

        public static float[] Floats(Dictionary<string, object> m, string key, string where, int expected)
        {
            var list = Get(m, key, where) as List<object>;
            if (list == null) throw new SchemaException(where + "." + key + ": expected an array");
            if (expected >= 0 && list.Count != expected)
                throw new SchemaException(where + "." + key + ": expected " + expected + " values, got " + list.Count);
            var a = new float[list.Count];
            for (int i = 0; i < a.Length; i++) a[i] = (float)Num(list[i], where + "." + key + "[" + i + "]");
            return a;
        }

        public static Dictionary<string, object> OptMap(Dictionary<string, object> m, string key, string where)
        {
            object v;
            if (!m.TryGetValue(key, out v) || v == null) return null;
            var d = v as Dictionary<string, object>;
            if (d == null) throw new SchemaException(where + "." + key + ": expected a map or nil, got " + Kind(v));
            return d;
        }

        public static string Kind(object v) { return v == null ? "nil" : v.GetType().Name; }
    }

    public sealed class TrackState
    {
        public long CarId; public double X, Y, Vx, Vy, T, Score; public string View;

        public static TrackState FromMap(Dictionary<string, object> m)
        {
            const string w = "track";
            return new TrackState
            {
                CarId = M.Long(m, "car_id", w), X = M.Dbl(m, "x", w), Y = M.Dbl(m, "y", w),
                Vx = M.Dbl(m, "vx", w), Vy = M.Dbl(m, "vy", w), T = M.Dbl(m, "t", w),
                View = M.OptStr(m, "view", w), Score = M.Dbl(m, "score", w),
            };
        }
    }

    public sealed class Hint
    {
        public string Location, DistanceUnit, MovingDir;
        public double AngleDeg, Distance, Speed;
        public double? TimeToStationS;

        public static Hint FromMap(Dictionary<string, object> m)
        {
            const string w = "hint";
            return new Hint
            {
                Location = M.Str(m, "location", w), AngleDeg = M.Dbl(m, "angle_deg", w),
                Distance = M.Dbl(m, "distance", w), DistanceUnit = M.Str(m, "distance_unit", w),
                MovingDir = M.Str(m, "moving_dir", w), Speed = M.Dbl(m, "speed", w),
                TimeToStationS = M.OptDbl(m, "time_to_station_s", w),
            };
        }
    }

    public sealed class Defect
    {
        public long DefectId, AgeFrames, Hits;
        public string View, Severity;
        public float[] ContourPx, ContourUv;   // flat [x0, y0, x1, y1, ...]
        public float[] BboxPx, CentroidPx, CentroidUv;
        public double AreaPx, PeakScore, MeanScore;
        public double? AreaMm2;
        public bool Confirmed;
        public Hint Hint;

        public static Defect FromMap(Dictionary<string, object> m)
        {
            const string w = "defect";
            var d = new Defect
            {
                DefectId = M.Long(m, "defect_id", w), View = M.Str(m, "view", w),
                ContourPx = M.Floats(m, "contour_px", w, -1), ContourUv = M.Floats(m, "contour_uv", w, -1),
                BboxPx = M.Floats(m, "bbox_px", w, 4), CentroidPx = M.Floats(m, "centroid_px", w, 2),
                CentroidUv = M.Floats(m, "centroid_uv", w, 2), AreaPx = M.Dbl(m, "area_px", w),
                PeakScore = M.Dbl(m, "peak_score", w), MeanScore = M.Dbl(m, "mean_score", w),
                Severity = M.Str(m, "severity", w), AgeFrames = M.Long(m, "age_frames", w),
                Confirmed = M.Bool(m, "confirmed", w), AreaMm2 = M.OptDbl(m, "area_mm2", w),
            };
            object hits;
            d.Hits = m.TryGetValue("hits", out hits) && hits is long ? (long)hits : 0;
            if (d.ContourPx.Length % 2 != 0 || d.ContourUv.Length % 2 != 0)
                throw new SchemaException("defect: contours must hold x, y pairs");
            if (d.Severity != "low" && d.Severity != "medium" && d.Severity != "high")
                throw new SchemaException("defect.severity: expected low|medium|high, got " + d.Severity);
            var h = M.OptMap(m, "hint", w);
            d.Hint = h == null ? null : Hint.FromMap(h);
            return d;
        }
    }

    public sealed class OverlayFrame
    {
        public const int SchemaVersion = 1;
        public string StreamId, Model, View;
        public long Seq;
        public double TCapture, TEmit;
        public double? ImageScore;
        public TrackState Track;
        public List<Defect> Defects = new List<Defect>();

        public static OverlayFrame FromMap(Dictionary<string, object> m)
        {
            const string w = "overlay";
            var type = M.OptStr(m, "type", w);
            if (type != null && type != "overlay_frame")
                throw new SchemaException("expected type overlay_frame, got " + type);
            long version = M.Long(m, "schema_version", w);
            if (version != SchemaVersion)
                throw new SchemaException("schema_version must be " + SchemaVersion + ", got " + version);
            var f = new OverlayFrame
            {
                StreamId = M.Str(m, "stream_id", w), Seq = M.Long(m, "seq", w),
                TCapture = M.Dbl(m, "t_capture", w), TEmit = M.Dbl(m, "t_emit", w),
                Model = M.Str(m, "model", w), View = M.OptStr(m, "view", w),
                ImageScore = M.OptDbl(m, "image_score", w),
            };
            var tr = M.OptMap(m, "track", w);
            f.Track = tr == null ? null : TrackState.FromMap(tr);
            var defects = M.Get(m, "defects", w) as List<object>;
            if (defects == null) throw new SchemaException("overlay.defects: expected an array");
            foreach (var o in defects)
            {
                var dm = o as Dictionary<string, object>;
                if (dm == null) throw new SchemaException("overlay.defects[]: expected a map");
                f.Defects.Add(Defect.FromMap(dm));
            }
            return f;
        }

        public static OverlayFrame FromMsgPack(byte[] data)
        {
            var m = MsgPackReader.Decode(data) as Dictionary<string, object>;
            if (m == null) throw new SchemaException("overlay message must be a msgpack map");
            return FromMap(m);
        }
    }
}
