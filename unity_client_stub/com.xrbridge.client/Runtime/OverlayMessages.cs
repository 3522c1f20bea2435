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
        public string SizeClass = "", TypeGuess = "";   // "" when the sender does not say
        public double Confidence;

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
            d.SizeClass = M.OptStr(m, "size_class", w) ?? "";
            d.TypeGuess = M.OptStr(m, "type_guess", w) ?? "";
            d.Confidence = M.OptDbl(m, "confidence", w) ?? 0.0;
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
        public List<CarVerdict> Verdicts = new List<CarVerdict>();  // cars that left recently (repeated)

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
            object vs;
            if (m.TryGetValue("verdicts", out vs) && vs != null)
            {
                var list = vs as List<object>;
                if (list == null) throw new SchemaException("overlay.verdicts: expected an array");
                foreach (var o in list)
                {
                    var vm = o as Dictionary<string, object>;
                    if (vm == null) throw new SchemaException("overlay.verdicts[]: expected a map");
                    f.Verdicts.Add(CarVerdict.FromMap(vm));
                }
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

    // One result per car when it leaves (type "car_verdict"): OK, NOK or INCOMPLETE.
    public sealed class VerdictDefect
    {
        public long DefectId, Frames;
        public string View, TypeGuess, SizeClass, Severity, Location;
        public double Confidence, LengthPx, AreaPx, TravelPx, PeakScore;
        public double? AreaMm2;
        public float[] CentroidUb, ContourUb;   // underbody px; contour flat [u0, v0, ...]

        public static VerdictDefect FromMap(Dictionary<string, object> m)
        {
            const string w = "verdict.defect";
            var d = new VerdictDefect
            {
                DefectId = M.Long(m, "defect_id", w), View = M.Str(m, "view", w),
                TypeGuess = M.Str(m, "type_guess", w), SizeClass = M.Str(m, "size_class", w),
                Severity = M.Str(m, "severity", w), Confidence = M.Dbl(m, "confidence", w),
                CentroidUb = M.Floats(m, "centroid_ub", w, 2), ContourUb = M.Floats(m, "contour_ub", w, -1),
                LengthPx = M.Dbl(m, "length_px", w), AreaPx = M.Dbl(m, "area_px", w),
                Location = M.Str(m, "location", w), Frames = M.Long(m, "frames", w),
                TravelPx = M.Dbl(m, "travel_px", w), PeakScore = M.Dbl(m, "peak_score", w),
                AreaMm2 = M.OptDbl(m, "area_mm2", w),
            };
            if (d.ContourUb.Length % 2 != 0) throw new SchemaException("verdict.defect: contour_ub must hold u, v pairs");
            if (d.SizeClass != "small" && d.SizeClass != "medium" && d.SizeClass != "large")
                throw new SchemaException("verdict.defect.size_class: expected small|medium|large, got " + d.SizeClass);
            return d;
        }
    }

    public sealed class ViewCoverage
    {
        public string View; public long Frames; public double TravelPx; public bool Complete;

        public static ViewCoverage FromMap(Dictionary<string, object> m)
        {
            const string w = "verdict.coverage";
            return new ViewCoverage
            {
                View = M.Str(m, "view", w), Frames = M.Long(m, "frames", w),
                TravelPx = M.Dbl(m, "travel_px", w), Complete = M.Bool(m, "complete", w),
            };
        }
    }

    public sealed class CarVerdict
    {
        public string StreamId, Status, Reason;
        public long CarId;
        public double Confidence, TFirst, TLast;
        public List<string> ViewsSeen = new List<string>(), ViewsMissing = new List<string>();
        public List<VerdictDefect> Defects = new List<VerdictDefect>();
        public List<ViewCoverage> Coverage = new List<ViewCoverage>();

        static List<object> List(Dictionary<string, object> m, string key, string where)
        {
            var l = M.Get(m, key, where) as List<object>;
            if (l == null) throw new SchemaException(where + "." + key + ": expected an array");
            return l;
        }

        public static CarVerdict FromMap(Dictionary<string, object> m)
        {
            const string w = "verdict";
            var type = M.OptStr(m, "type", w);
            if (type != null && type != "car_verdict") throw new SchemaException("expected type car_verdict, got " + type);
            long version = M.Long(m, "schema_version", w);
            if (version != OverlayFrame.SchemaVersion)
                throw new SchemaException("schema_version must be " + OverlayFrame.SchemaVersion + ", got " + version);
            var v = new CarVerdict
            {
                StreamId = M.Str(m, "stream_id", w), CarId = M.Long(m, "car_id", w), Status = M.Str(m, "status", w),
                Confidence = M.Dbl(m, "confidence", w), TFirst = M.Dbl(m, "t_first", w), TLast = M.Dbl(m, "t_last", w),
                Reason = M.Str(m, "reason", w),
            };
            if (v.Status != "OK" && v.Status != "NOK" && v.Status != "INCOMPLETE")
                throw new SchemaException("verdict.status: expected OK|NOK|INCOMPLETE, got " + v.Status);
            foreach (var o in List(m, "views_seen", w))
                v.ViewsSeen.Add(o as string ?? throw new SchemaException("verdict.views_seen[]: expected str"));
            foreach (var o in List(m, "views_missing", w))
                v.ViewsMissing.Add(o as string ?? throw new SchemaException("verdict.views_missing[]: expected str"));
            foreach (var o in List(m, "defects", w))
                v.Defects.Add(VerdictDefect.FromMap(o as Dictionary<string, object> ?? throw new SchemaException("verdict.defects[]: expected a map")));
            foreach (var o in List(m, "coverage", w))
                v.Coverage.Add(ViewCoverage.FromMap(o as Dictionary<string, object> ?? throw new SchemaException("verdict.coverage[]: expected a map")));
            return v;
        }

        public static CarVerdict FromMsgPack(byte[] data)
        {
            var m = MsgPackReader.Decode(data) as Dictionary<string, object>;
            if (m == null) throw new SchemaException("verdict message must be a msgpack map");
            return FromMap(m);
        }
    }

    /// <summary>A sealing robot's drift alert changed (msgpack type "robot_alert"; PROTOCOL.md).
    /// Keep one per (StreamId, Robot): the newest state wins.</summary>
    public sealed class RobotAlert
    {
        public string StreamId, Robot, State;
        public double Rate, T, Threshold;
        public long Defective, Cars, CarId, CarsSeen;

        public static RobotAlert FromMap(Dictionary<string, object> m)
        {
            const string w = "alert";
            var type = M.OptStr(m, "type", w);
            if (type != null && type != "robot_alert") throw new SchemaException("expected type robot_alert, got " + type);
            long version = M.Long(m, "schema_version", w);
            if (version != OverlayFrame.SchemaVersion)
                throw new SchemaException("schema_version must be " + OverlayFrame.SchemaVersion + ", got " + version);
            var a = new RobotAlert
            {
                StreamId = M.Str(m, "stream_id", w), Robot = M.Str(m, "robot", w), State = M.Str(m, "state", w),
                Rate = M.Dbl(m, "rate", w), Defective = M.Long(m, "defective", w), Cars = M.Long(m, "cars", w),
                CarId = M.Long(m, "car_id", w), T = M.Dbl(m, "t", w), CarsSeen = M.Long(m, "cars_seen", w),
                Threshold = M.Dbl(m, "threshold", w),
            };
            if (a.State != "raised" && a.State != "cleared")
                throw new SchemaException("alert.state: expected raised|cleared, got " + a.State);
            if (a.Rate < 0 || a.Rate > 1) throw new SchemaException("alert.rate: expected [0, 1], got " + a.Rate);
            return a;
        }

        public static RobotAlert FromMsgPack(byte[] data)
        {
            var m = MsgPackReader.Decode(data) as Dictionary<string, object>;
            if (m == null) throw new SchemaException("alert message must be a msgpack map");
            return FromMap(m);
        }
    }
}
