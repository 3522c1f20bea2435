// Draws the xrbridge overlays in a Unity scene on HoloLens 2.
//
// Put this component on a GameObject, set Url to the bridge's LAN address
// (ws://<PC on the LAN>:8765/ws, never 127.0.0.1: on the headset that is the
// headset itself) and assign UnderbodyAnchor: a Transform placed on the car's
// underbody plane (a spatial anchor or a hand-placed marker), x along the car
// (towards the front), z across it, y pointing down at the viewer's side.
// ViewSizeM is the physical size of one view (template) on the underbody.
//
// Contours come in view-normalised coordinates (contour_uv, u along the car
// from the view's front edge, v across, both in [0, 1]) and are drawn on that
// plane, so they stay on the car while it moves; arrows show the hints and
// colours the severity (low yellow, medium orange, high red).
using System.Collections.Generic;
using UnityEngine;
using Xrbridge;

public class XrbridgeOverlay : MonoBehaviour
{
    public string Url = "ws://192.168.0.10:8765/ws";
    public string Token = "";
    public string Stream = "";                 // empty: every stream
    public Transform UnderbodyAnchor;
    public Vector2 ViewSizeM = new Vector2(1.2f, 0.8f);
    public float LineWidthM = 0.006f;
    public bool OnlyConfirmed = true;

    public static readonly Color Low = new Color(1f, 0.83f, 0f, 1f);
    public static readonly Color Medium = new Color(1f, 0.55f, 0f, 1f);
    public static readonly Color High = new Color(1f, 0.16f, 0.16f, 1f);

    public readonly MainThreadQueue Dispatcher = new MainThreadQueue();
    public BridgeClient Client;
    public OverlayFrame Last;
    public int FramesApplied;

    private readonly List<LineRenderer> _contours = new List<LineRenderer>();
    private readonly List<LineRenderer> _arrows = new List<LineRenderer>();
    private Material _material;

    public static Color SeverityColor(string severity)
    {
        if (severity == "high") return High;
        if (severity == "medium") return Medium;
        return Low;
    }

    /// <summary>A point of the view (u, v in [0, 1]) on the anchor plane, local coordinates.</summary>
    public Vector3 ViewToLocal(float u, float v)
    {
        // u grows towards the back of the car: -x on the anchor (x points to the front)
        return new Vector3((0.5f - u) * ViewSizeM.x, 0f, (v - 0.5f) * ViewSizeM.y);
    }

    void Start()
    {
        if (UnderbodyAnchor == null) UnderbodyAnchor = transform;
        _material = new Material(Shader.Find("Sprites/Default"));
        Client = new BridgeClient(new System.Uri(Url), Dispatcher.Post);
        Client.Token = Token;
        Client.Streams = string.IsNullOrEmpty(Stream) ? new string[0] : new[] { Stream };
        Client.OverlayReceived += Apply;
        Client.ErrorReceived += (code, msg) => Debug.LogWarning("xrbridge error " + code + ": " + msg);
        Client.ConnectionChanged += s => Debug.Log("xrbridge " + s);
        Client.Start();
    }

    void Update()
    {
        Dispatcher.Drain();
    }

    void OnDestroy()
    {
        if (Client != null) Client.Dispose();
    }

    private LineRenderer Line(List<LineRenderer> pool, int i, string name)
    {
        while (pool.Count <= i)
        {
            var go = new GameObject(name + pool.Count);
            go.transform.SetParent(UnderbodyAnchor != null ? UnderbodyAnchor : transform, false);
            var lr = go.AddComponent<LineRenderer>();
            lr.useWorldSpace = false;
            lr.material = _material;
            lr.startWidth = lr.endWidth = LineWidthM;
            pool.Add(lr);
        }
        pool[i].gameObject.SetActive(true);
        return pool[i];
    }

    /// <summary>Show one overlay frame (main thread only).</summary>
    public void Apply(OverlayFrame frame)
    {
        if (UnderbodyAnchor == null) UnderbodyAnchor = transform;
        Last = frame;
        FramesApplied++;
        int nc = 0, na = 0;
        foreach (var d in frame.Defects)
        {
            if (OnlyConfirmed && !d.Confirmed) continue;
            var color = SeverityColor(d.Severity);
            var lr = Line(_contours, nc++, "xr-contour-");
            int n = d.ContourUv.Length / 2;
            lr.loop = true;
            lr.positionCount = n;
            for (int k = 0; k < n; k++) lr.SetPosition(k, ViewToLocal(d.ContourUv[2 * k], d.ContourUv[2 * k + 1]));
            lr.startColor = lr.endColor = color;
            if (d.Hint != null)
            {
                // arrow from the view's centre towards the defect, along hint.angle_deg
                var a = Line(_arrows, na++, "xr-arrow-");
                var tip = ViewToLocal(d.CentroidUv[0], d.CentroidUv[1]);
                var dir = (tip - ViewToLocal(0.5f, 0.5f));
                float len = dir.magnitude;
                var unit = len > 1e-6f ? dir / len : new Vector3(1f, 0f, 0f);
                var side = new Vector3(-unit.z, 0f, unit.x);
                var back = tip - unit * 0.05f;
                a.loop = false;
                a.positionCount = 5;
                a.SetPosition(0, ViewToLocal(0.5f, 0.5f));
                a.SetPosition(1, tip);
                a.SetPosition(2, back + side * 0.025f);
                a.SetPosition(3, tip);
                a.SetPosition(4, back - side * 0.025f);
                a.startColor = a.endColor = color;
            }
        }
        for (int i = nc; i < _contours.Count; i++) _contours[i].gameObject.SetActive(false);
        for (int i = na; i < _arrows.Count; i++) _arrows[i].gameObject.SetActive(false);
    }

    public int ActiveContours
    {
        get { int n = 0; foreach (var c in _contours) if (c.gameObject.activeSelf) n++; return n; }
    }

    public int ActiveArrows
    {
        get { int n = 0; foreach (var c in _arrows) if (c.gameObject.activeSelf) n++; return n; }
    }
}
