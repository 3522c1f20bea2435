// WebSocket client for the xrbridge server: hello, subscribe, decode overlays,
// heartbeat watchdog and reconnect with exponential backoff. Pure .NET
// (System.Net.WebSockets), no UnityEngine: it runs in the Unity player (UWP /
// IL2CPP on HoloLens 2) and in the console harness alike.
//
// Events are raised through the dispatcher given to the constructor (in Unity:
// MainThreadQueue.Post, drained in Update), so handlers may touch Unity objects.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Xrbridge
{
    public sealed class BridgeClient : IDisposable
    {
        public readonly Uri Url;
        public string Token;
        public string[] Streams = new string[0];    // empty: every stream
        public int MaxMessageBytes = 8 * 1024 * 1024;
        public double InitialBackoffS = 0.5, MaxBackoffS = 10.0;

        public event Action<OverlayFrame> OverlayReceived;
        public event Action<string, string> ErrorReceived;        // code, message
        public event Action<Dictionary<string, object>> HelloReceived;
        public event Action<string> ConnectionChanged;            // "connected" / "disconnected: ..."

        // counters (read from any thread)
        public int Connects, Reconnects, Overlays, DecodeErrors, Heartbeats;

        private readonly Action<Action> _post;
        private CancellationTokenSource _cts;
        private ClientWebSocket _ws;
        private Task _loop;
        private double _heartbeatS = 5.0;
        private DateTime _lastMessage = DateTime.UtcNow;

        /// <summary>UTC time of the last complete message (any type).</summary>
        public DateTime LastMessageUtc { get { return _lastMessage; } }

        public BridgeClient(Uri url, Action<Action> post)
        {
            if (url.Scheme != "ws" && url.Scheme != "wss")
                throw new ArgumentException("url must be ws:// or wss://, got " + url);
            Url = url;
            _post = post ?? (a => a());
        }

        public void Start()
        {
            if (_loop != null) return;
            _cts = new CancellationTokenSource();
            _loop = Task.Run(() => RunAsync(_cts.Token));
        }

        public void Dispose()
        {
            if (_cts != null) _cts.Cancel();
            var ws = _ws;
            if (ws != null) ws.Abort();
            try { if (_loop != null) _loop.Wait(2000); } catch (AggregateException) { }
            _loop = null;
        }

        /// <summary>Drop the current connection (as a network loss would); the client reconnects.</summary>
        public void AbortConnection()
        {
            var ws = _ws;
            if (ws != null) ws.Abort();
        }

        public Task SendAsync(Dictionary<string, object> message)
        {
            var ws = _ws;
            if (ws == null || ws.State != WebSocketState.Open) return Task.FromResult(0);
            var bytes = MsgPackWriter.Encode(message);
            return ws.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Binary, true, CancellationToken.None);
        }

        private async Task RunAsync(CancellationToken ct)
        {
            double backoff = InitialBackoffS;
            while (!ct.IsCancellationRequested)
            {
                string reason = "closed";
                var ws = new ClientWebSocket();
                if (!string.IsNullOrEmpty(Token)) ws.Options.SetRequestHeader("Authorization", "Bearer " + Token);
                ws.Options.KeepAliveInterval = TimeSpan.FromSeconds(10);
                try
                {
                    await ws.ConnectAsync(Url, ct).ConfigureAwait(false);
                    _ws = ws;
                    if (Connects++ > 0) Reconnects++;
                    backoff = InitialBackoffS;
                    _lastMessage = DateTime.UtcNow;
                    Raise(ConnectionChanged, "connected");
                    await SendAsync(new Dictionary<string, object> {
                        { "type", "hello" }, { "schema_version", (long)OverlayFrame.SchemaVersion },
                        { "client", "unity" }, { "token", Token ?? "" } }).ConfigureAwait(false);
                    await SendAsync(new Dictionary<string, object> {
                        { "type", "subscribe" }, { "streams", new List<object>(Streams) } }).ConfigureAwait(false);
                    await ReceiveLoop(ws, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) { reason = "stopped"; }
                catch (Exception e) { reason = e.GetType().Name + ": " + e.Message; }
                finally
                {
                    _ws = null;
                    ws.Dispose();
                }
                Raise(ConnectionChanged, "disconnected: " + reason);
                if (ct.IsCancellationRequested) break;
                try { await Task.Delay(TimeSpan.FromSeconds(backoff), ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                backoff = Math.Min(MaxBackoffS, backoff * 2);
            }
        }

        private async Task ReceiveLoop(ClientWebSocket ws, CancellationToken ct)
        {
            var chunk = new byte[64 * 1024];
            var message = new MemoryStream();
            while (ws.State == WebSocketState.Open && !ct.IsCancellationRequested)
            {
                // heartbeat watchdog: a silent server for 3 heartbeats is a dead link
                var wait = Task.Delay(TimeSpan.FromSeconds(3 * _heartbeatS), ct);
                var recv = ws.ReceiveAsync(new ArraySegment<byte>(chunk), ct);
                if (await Task.WhenAny(recv, wait).ConfigureAwait(false) != recv)
                {
                    ws.Abort();
                    throw new TimeoutException("no message for " + (3 * _heartbeatS) + " s");
                }
                var r = await recv.ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Close) return;
                message.Write(chunk, 0, r.Count);
                if (message.Length > MaxMessageBytes) throw new IOException("message above " + MaxMessageBytes + " bytes");
                if (!r.EndOfMessage) continue;
                _lastMessage = DateTime.UtcNow;
                var data = message.ToArray();
                message.SetLength(0);
                if (r.MessageType != WebSocketMessageType.Binary) { DecodeErrors++; continue; }
                Handle(data);
            }
        }

        private void Handle(byte[] data)
        {
            Dictionary<string, object> m;
            try { m = MsgPackReader.Decode(data) as Dictionary<string, object>; }
            catch (MsgPackException) { DecodeErrors++; return; }
            if (m == null) { DecodeErrors++; return; }
            object t;
            m.TryGetValue("type", out t);
            switch (t as string)
            {
                case "overlay_frame":
                    OverlayFrame f;
                    try { f = OverlayFrame.FromMap(m); }
                    catch (SchemaException) { DecodeErrors++; return; }
                    Interlocked.Increment(ref Overlays);
                    Raise(OverlayReceived, f);
                    break;
                case "hello":
                    object hb;
                    if (m.TryGetValue("heartbeat_s", out hb) && (hb is double || hb is long))
                        _heartbeatS = Math.Max(0.5, Convert.ToDouble(hb));
                    Raise(HelloReceived, m);
                    break;
                case "heartbeat":
                    Heartbeats++;
                    break;
                case "error":
                    object code, msg;
                    m.TryGetValue("code", out code);
                    m.TryGetValue("message", out msg);
                    var h = ErrorReceived;
                    if (h != null) _post(() => h(code as string, msg as string));
                    break;
                default:
                    break; // pong, subscribed, status, video...: not needed by the headset
            }
        }

        private void Raise<T>(Action<T> handler, T value)
        {
            if (handler != null) _post(() => handler(value));
        }
    }
}
