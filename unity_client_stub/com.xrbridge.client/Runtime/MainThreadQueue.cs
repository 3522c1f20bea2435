// Hands work from the WebSocket thread to Unity's main thread: the network
// side Post()s actions, a MonoBehaviour calls Drain() in Update(). Unity
// objects (GameObject, LineRenderer, ...) may only be touched from Drain.
using System;
using System.Collections.Concurrent;

namespace Xrbridge
{
    public sealed class MainThreadQueue
    {
        private readonly ConcurrentQueue<Action> _queue = new ConcurrentQueue<Action>();

        public void Post(Action action)
        {
            if (action != null) _queue.Enqueue(action);
        }

        public int Count { get { return _queue.Count; } }

        /// <summary>Run at most maxActions queued actions on the calling (main) thread.</summary>
        public int Drain(int maxActions = 256)
        {
            int n = 0;
            Action a;
            while (n < maxActions && _queue.TryDequeue(out a))
            {
                a();
                n++;
            }
            return n;
        }
    }
}
