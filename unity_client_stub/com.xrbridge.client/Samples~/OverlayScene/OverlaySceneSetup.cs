// Sample scene script (Package Manager > xrbridge client > Samples > Import).
//
// Put it on an empty GameObject of a new scene, set BridgeUrl to the LAN
// address that `xrbridge demo --host 0.0.0.0` prints (ws://192.168.x.y:8765/ws,
// never 127.0.0.1: on the headset that is the headset itself) and press Play or
// deploy to the HoloLens 2. It builds an underbody anchor AnchorOffsetM in front
// of the GameObject and an XrbridgeOverlay that connects to the bridge and draws
// the confirmed defects on that anchor. In a real app, replace the fixed offset
// with a spatial anchor placed once per station.
using UnityEngine;

namespace Xrbridge.Samples
{
    public class OverlaySceneSetup : MonoBehaviour
    {
        public string BridgeUrl = "ws://192.168.0.10:8765/ws";
        public string Token = "";
        public string Stream = "";                  // empty: every stream
        public Vector3 AnchorOffsetM = new Vector3(0f, 1.0f, 1.5f);
        public Vector2 ViewSizeM = new Vector2(1.2f, 0.8f);

        public XrbridgeOverlay Overlay;

        void Awake()
        {
            if (Overlay == null) Overlay = Build();
        }

        /// <summary>Creates the anchor and the overlay component (before the overlay's Start connects).</summary>
        public XrbridgeOverlay Build()
        {
            var anchor = new GameObject("Underbody anchor");
            anchor.transform.SetParent(transform, false);
            anchor.transform.localPosition = AnchorOffsetM;
            var overlay = gameObject.AddComponent<XrbridgeOverlay>();
            overlay.Url = BridgeUrl;
            overlay.Token = Token;
            overlay.Stream = Stream;
            overlay.ViewSizeM = ViewSizeM;
            overlay.UnderbodyAnchor = anchor.transform;
            return overlay;
        }
    }
}
