// Console harness run by CI (tests/test_bridge_unity.py) with Debian's mono:
//   1. decodes the golden messages (tests/golden/*.msgpack), prints them as JSON
//      for the Python side to compare with the golden .json files, and draws
//      them with XrbridgeOverlay against the UnityEngine stub;
//   2. feeds truncated and random bytes to the reader: only MsgPackException /
//      SchemaException may come out;
//   3. builds the package's sample scene (OverlaySceneSetup) and checks the overlay
//      it wires up;
//   4. with --url, connects to a running bridge, decodes a live stream through
//      BridgeClient + MainThreadQueue, drops the connection once (--reconnect)
//      and checks that the client reconnects and keeps decoding.
// Output: one JSON object per line on stdout; exit code 0 when every check passed.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using UnityEngine;
using Xrbridge;
using Xrbridge.Samples;

public static class Harness
{
    static string D(double v) { return v.ToString("R", CultureInfo.InvariantCulture); }
    static string S(string s) { return s == null ? "null" : "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\""; }
    static string Arr(float[] a)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < a.Length; i++) { if (i > 0) sb.Append(','); sb.Append(D(a[i])); }
        return sb.Append(']').ToString();
    }
    static string Opt(double? v) { return v.HasValue ? D(v.Value) : "null"; }

    static string Json(OverlayFrame f)
    {
        var sb = new StringBuilder();
        sb.Append("{\"type\":\"overlay_frame\",\"schema_version\":1");
        sb.Append(",\"stream_id\":").Append(S(f.StreamId)).Append(",\"seq\":").Append(f.Seq);
        sb.Append(",\"t_capture\":").Append(D(f.TCapture)).Append(",\"t_emit\":").Append(D(f.TEmit));
        sb.Append(",\"model\":").Append(S(f.Model)).Append(",\"view\":").Append(S(f.View));
        if (f.Track == null) sb.Append(",\"track\":null");
        else
        {
            var t = f.Track;
            sb.Append(",\"track\":{\"car_id\":").Append(t.CarId).Append(",\"x\":").Append(D(t.X))
              .Append(",\"y\":").Append(D(t.Y)).Append(",\"vx\":").Append(D(t.Vx)).Append(",\"vy\":").Append(D(t.Vy))
              .Append(",\"t\":").Append(D(t.T)).Append(",\"view\":").Append(S(t.View))
              .Append(",\"score\":").Append(D(t.Score)).Append('}');
        }
        sb.Append(",\"image_score\":").Append(Opt(f.ImageScore)).Append(",\"defects\":[");
        for (int i = 0; i < f.Defects.Count; i++)
        {
            var d = f.Defects[i];
            if (i > 0) sb.Append(',');
            sb.Append("{\"defect_id\":").Append(d.DefectId).Append(",\"view\":").Append(S(d.View))
              .Append(",\"contour_px\":").Append(Arr(d.ContourPx)).Append(",\"contour_uv\":").Append(Arr(d.ContourUv))
              .Append(",\"bbox_px\":").Append(Arr(d.BboxPx)).Append(",\"centroid_px\":").Append(Arr(d.CentroidPx))
              .Append(",\"centroid_uv\":").Append(Arr(d.CentroidUv)).Append(",\"area_px\":").Append(D(d.AreaPx))
              .Append(",\"peak_score\":").Append(D(d.PeakScore)).Append(",\"mean_score\":").Append(D(d.MeanScore))
              .Append(",\"severity\":").Append(S(d.Severity)).Append(",\"age_frames\":").Append(d.AgeFrames)
              .Append(",\"confirmed\":").Append(d.Confirmed ? "true" : "false");
            if (d.Hint == null) sb.Append(",\"hint\":null");
            else
            {
                var h = d.Hint;
                sb.Append(",\"hint\":{\"location\":").Append(S(h.Location)).Append(",\"angle_deg\":").Append(D(h.AngleDeg))
                  .Append(",\"distance\":").Append(D(h.Distance)).Append(",\"distance_unit\":").Append(S(h.DistanceUnit))
                  .Append(",\"moving_dir\":").Append(S(h.MovingDir)).Append(",\"speed\":").Append(D(h.Speed))
                  .Append(",\"time_to_station_s\":").Append(Opt(h.TimeToStationS)).Append('}');
            }
            sb.Append(",\"hits\":").Append(d.Hits).Append(",\"area_mm2\":").Append(Opt(d.AreaMm2))
              .Append(",\"size_class\":").Append(S(d.SizeClass)).Append(",\"type_guess\":").Append(S(d.TypeGuess))
              .Append(",\"confidence\":").Append(D(d.Confidence)).Append('}');
        }
        sb.Append("],\"verdicts\":[");
        for (int i = 0; i < f.Verdicts.Count; i++) { if (i > 0) sb.Append(','); sb.Append(Json(f.Verdicts[i])); }
        return sb.Append("]}").ToString();
    }

    static string Strs(List<string> a)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < a.Count; i++) { if (i > 0) sb.Append(','); sb.Append(S(a[i])); }
        return sb.Append(']').ToString();
    }

    static string Json(RobotAlert a)
    {
        return new StringBuilder("{\"type\":\"robot_alert\",\"schema_version\":1")
            .Append(",\"stream_id\":").Append(S(a.StreamId)).Append(",\"robot\":").Append(S(a.Robot))
            .Append(",\"state\":").Append(S(a.State)).Append(",\"rate\":").Append(D(a.Rate))
            .Append(",\"defective\":").Append(a.Defective).Append(",\"cars\":").Append(a.Cars)
            .Append(",\"car_id\":").Append(a.CarId).Append(",\"t\":").Append(D(a.T))
            .Append(",\"cars_seen\":").Append(a.CarsSeen).Append(",\"threshold\":").Append(D(a.Threshold))
            .Append('}').ToString();
    }

    static string Json(CarVerdict v)
    {
        var sb = new StringBuilder("{\"type\":\"car_verdict\",\"schema_version\":1");
        sb.Append(",\"stream_id\":").Append(S(v.StreamId)).Append(",\"car_id\":").Append(v.CarId)
          .Append(",\"status\":").Append(S(v.Status)).Append(",\"confidence\":").Append(D(v.Confidence))
          .Append(",\"t_first\":").Append(D(v.TFirst)).Append(",\"t_last\":").Append(D(v.TLast))
          .Append(",\"views_seen\":").Append(Strs(v.ViewsSeen)).Append(",\"views_missing\":").Append(Strs(v.ViewsMissing))
          .Append(",\"defects\":[");
        for (int i = 0; i < v.Defects.Count; i++)
        {
            var d = v.Defects[i];
            if (i > 0) sb.Append(',');
            sb.Append("{\"defect_id\":").Append(d.DefectId).Append(",\"view\":").Append(S(d.View))
              .Append(",\"type_guess\":").Append(S(d.TypeGuess)).Append(",\"size_class\":").Append(S(d.SizeClass))
              .Append(",\"severity\":").Append(S(d.Severity)).Append(",\"confidence\":").Append(D(d.Confidence))
              .Append(",\"centroid_ub\":").Append(Arr(d.CentroidUb)).Append(",\"contour_ub\":").Append(Arr(d.ContourUb))
              .Append(",\"length_px\":").Append(D(d.LengthPx)).Append(",\"area_px\":").Append(D(d.AreaPx))
              .Append(",\"location\":").Append(S(d.Location)).Append(",\"frames\":").Append(d.Frames)
              .Append(",\"travel_px\":").Append(D(d.TravelPx)).Append(",\"peak_score\":").Append(D(d.PeakScore))
              .Append(",\"area_mm2\":").Append(Opt(d.AreaMm2)).Append('}');
        }
        sb.Append("],\"coverage\":[");
        for (int i = 0; i < v.Coverage.Count; i++)
        {
            var c = v.Coverage[i];
            if (i > 0) sb.Append(',');
            sb.Append("{\"view\":").Append(S(c.View)).Append(",\"frames\":").Append(c.Frames)
              .Append(",\"travel_px\":").Append(D(c.TravelPx)).Append(",\"complete\":").Append(c.Complete ? "true" : "false").Append('}');
        }
        return sb.Append("],\"reason\":").Append(S(v.Reason)).Append('}').ToString();
    }

    static XrbridgeOverlay NewOverlay()
    {
        var go = new GameObject("overlay");
        var ov = go.AddComponent<XrbridgeOverlay>();
        ov.UnderbodyAnchor = go.transform;
        return ov;
    }

    static int Golden(string dir)
    {
        int failures = 0;
        foreach (var path in Directory.GetFiles(dir, "*.msgpack"))
        {
            var bytes = File.ReadAllBytes(path);
            var top = MsgPackReader.Decode(bytes) as Dictionary<string, object>;
            object kind;
            if (top != null && top.TryGetValue("type", out kind) && (kind as string) == "car_verdict")
            {
                // a verdict on its own (JSONL, records): decode, print, fuzz like the frames
                var v = CarVerdict.FromMsgPack(bytes);
                Console.WriteLine("{\"golden\":" + S(Path.GetFileName(path)) + ",\"verdict\":" + Json(v) + "}");
                var vr = new System.Random(11);
                int vcases = 0, vunexpected = 0;
                for (int n = 0; n < bytes.Length; n++) { vcases++; vunexpected += Expect(bytes, n, false, true); }
                for (int k = 0; k < 600; k++)
                {
                    var b = (byte[])bytes.Clone();
                    for (int j = 0; j < 1 + vr.Next(4); j++) b[vr.Next(b.Length)] = (byte)vr.Next(256);
                    vcases++; vunexpected += Expect(b, b.Length, true, true);
                }
                if (vunexpected > 0) failures++;
                Console.WriteLine("{\"fuzz\":" + S(Path.GetFileName(path)) + ",\"cases\":" + vcases + ",\"unexpected\":" + vunexpected + "}");
                continue;
            }
            if (top != null && top.TryGetValue("type", out kind) && (kind as string) == "robot_alert")
            {
                // a robot's drift alert (a message of its own): decode, print, fuzz
                var a = RobotAlert.FromMsgPack(bytes);
                Console.WriteLine("{\"golden\":" + S(Path.GetFileName(path)) + ",\"alert\":" + Json(a) + "}");
                var ar = new System.Random(13);
                int acases = 0, aunexpected = 0;
                for (int n = 0; n < bytes.Length; n++) { acases++; aunexpected += Expect(bytes, n, false, false, true); }
                for (int k = 0; k < 600; k++)
                {
                    var b = (byte[])bytes.Clone();
                    for (int j = 0; j < 1 + ar.Next(4); j++) b[ar.Next(b.Length)] = (byte)ar.Next(256);
                    acases++; aunexpected += Expect(b, b.Length, true, false, true);
                }
                if (aunexpected > 0) failures++;
                Console.WriteLine("{\"fuzz\":" + S(Path.GetFileName(path)) + ",\"cases\":" + acases + ",\"unexpected\":" + aunexpected + "}");
                continue;
            }
            var f = OverlayFrame.FromMsgPack(bytes);
            var ov = NewOverlay();
            ov.Apply(f);
            int confirmed = 0, hinted = 0;
            foreach (var d in f.Defects) if (d.Confirmed) { confirmed++; if (d.Hint != null) hinted++; }
            if (ov.ActiveContours != confirmed || ov.ActiveArrows != hinted) failures++;
            Console.WriteLine("{\"golden\":" + S(Path.GetFileName(path)) + ",\"contours_drawn\":" + ov.ActiveContours +
                              ",\"arrows_drawn\":" + ov.ActiveArrows + ",\"frame\":" + Json(f) + "}");
            // fuzz: every truncation and random corruptions must fail cleanly
            var rng = new System.Random(7);
            int cases = 0, unexpected = 0;
            for (int n = 0; n < bytes.Length; n++) { cases++; unexpected += Expect(bytes, n); }
            for (int k = 0; k < 500; k++)
            {
                var b = (byte[])bytes.Clone();
                for (int j = 0; j < 1 + rng.Next(4); j++) b[rng.Next(b.Length)] = (byte)rng.Next(256);
                cases++; unexpected += Expect(b, b.Length, true);
            }
            for (int k = 0; k < 200; k++)
            {
                var b = new byte[rng.Next(1, 64)];
                rng.NextBytes(b);
                cases++; unexpected += Expect(b, b.Length, true);
            }
            if (unexpected > 0) failures++;
            Console.WriteLine("{\"fuzz\":" + S(Path.GetFileName(path)) + ",\"cases\":" + cases + ",\"unexpected\":" + unexpected + "}");
        }
        return failures;
    }

    // 0 when decoding fails with our exceptions (or, for corruptions, succeeds)
    static int Expect(byte[] data, int count, bool mayDecode = false, bool verdict = false, bool alert = false)
    {
        try
        {
            var m = MsgPackReader.Decode(data, count) as Dictionary<string, object>;
            if (m == null) throw new SchemaException("not a map");
            if (alert) RobotAlert.FromMap(m); else if (verdict) CarVerdict.FromMap(m); else OverlayFrame.FromMap(m);
            return mayDecode ? 0 : 1;
        }
        catch (MsgPackException) { return 0; }
        catch (SchemaException) { return 0; }
        catch (Exception e)
        {
            Console.Error.WriteLine("unexpected " + e.GetType().Name + ": " + e.Message);
            return 1;
        }
    }

    static int Sample()
    {
        var go = new GameObject("sample");
        var setup = go.AddComponent<OverlaySceneSetup>();
        setup.BridgeUrl = "ws://192.168.1.20:8765/ws";
        var ov = setup.Build();
        bool ok = ov.Url == setup.BridgeUrl && ov.UnderbodyAnchor != null
                  && ov.UnderbodyAnchor.parent == go.transform && go.transform.childCount == 1;
        Console.WriteLine("{\"sample\":{\"url\":" + S(ov.Url) + ",\"anchor\":" + S(ov.UnderbodyAnchor.name) +
                          ",\"ok\":" + (ok ? "true" : "false") + "}}");
        return ok ? 0 : 1;
    }

    static int Live(string url, string token, int frames, bool reconnect, double timeoutS)
    {
        var ov = NewOverlay();
        var client = new BridgeClient(new Uri(url), ov.Dispatcher.Post);
        client.Token = token;
        var streams = new HashSet<string>();
        long maxSeq = -1;
        int defects = 0, helloCount = 0, mainThreadViolations = 0;
        int mainThread = Thread.CurrentThread.ManagedThreadId;
        client.OverlayReceived += f =>
        {
            if (Thread.CurrentThread.ManagedThreadId != mainThread) mainThreadViolations++;
            ov.Apply(f);
            streams.Add(f.StreamId);
            maxSeq = Math.Max(maxSeq, f.Seq);
            defects += f.Defects.Count;
        };
        client.HelloReceived += h => helloCount++;
        client.ErrorReceived += (c, m) => Console.Error.WriteLine("server error " + c + ": " + m);
        client.Start();
        var deadline = DateTime.UtcNow.AddSeconds(timeoutS);
        bool aborted = false;
        int target = reconnect ? 2 * frames : frames;
        while (DateTime.UtcNow < deadline && ov.FramesApplied < target)
        {
            ov.Dispatcher.Drain();   // the "Update()" of this console player
            if (reconnect && !aborted && ov.FramesApplied >= frames) { client.AbortConnection(); aborted = true; }
            Thread.Sleep(5);
        }
        ov.Dispatcher.Drain();
        client.Dispose();
        bool ok = ov.FramesApplied >= target && client.DecodeErrors == 0 && mainThreadViolations == 0
                  && (!reconnect || client.Reconnects >= 1);
        var sl = new List<string>();
        foreach (var s in streams) sl.Add(S(s));
        Console.WriteLine("{\"live\":{\"overlays\":" + ov.FramesApplied + ",\"reconnects\":" + client.Reconnects +
                          ",\"decode_errors\":" + client.DecodeErrors + ",\"hellos\":" + helloCount +
                          ",\"streams\":[" + string.Join(",", sl.ToArray()) + "],\"max_seq\":" + maxSeq +
                          ",\"defects\":" + defects + ",\"main_thread_violations\":" + mainThreadViolations +
                          ",\"ok\":" + (ok ? "true" : "false") + "}}");
        return ok ? 0 : 1;
    }

    public static int Main(string[] args)
    {
        string golden = null, url = null, token = "";
        int frames = 20;
        bool reconnect = false;
        double timeout = 60;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--golden": golden = args[++i]; break;
                case "--url": url = args[++i]; break;
                case "--token": token = args[++i]; break;
                case "--frames": frames = int.Parse(args[++i]); break;
                case "--timeout": timeout = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--reconnect": reconnect = true; break;
                default: Console.Error.WriteLine("unknown argument " + args[i]); return 2;
            }
        }
        int failures = 0;
        if (golden != null) failures += Golden(golden) + Sample();
        if (url != null) failures += Live(url, token, frames, reconnect, timeout);
        return failures == 0 ? 0 : 1;
    }
}
