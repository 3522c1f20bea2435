// A tiny stand-in for the parts of UnityEngine the overlay script uses, so that
// CI can compile and exercise it with Debian's mono (no Unity installed).
// NOT shipped to Unity: there, the real UnityEngine.dll is used.
using System;
using System.Collections.Generic;

namespace UnityEngine
{
    public class Object { public string name = ""; }

    public struct Vector2
    {
        public float x, y;
        public Vector2(float x, float y) { this.x = x; this.y = y; }
    }

    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
        public float magnitude { get { return (float)Math.Sqrt(x * x + y * y + z * z); } }
        public static Vector3 operator +(Vector3 a, Vector3 b) { return new Vector3(a.x + b.x, a.y + b.y, a.z + b.z); }
        public static Vector3 operator -(Vector3 a, Vector3 b) { return new Vector3(a.x - b.x, a.y - b.y, a.z - b.z); }
        public static Vector3 operator *(Vector3 a, float s) { return new Vector3(a.x * s, a.y * s, a.z * s); }
        public static Vector3 operator /(Vector3 a, float s) { return new Vector3(a.x / s, a.y / s, a.z / s); }
        public override string ToString() { return "(" + x + ", " + y + ", " + z + ")"; }
    }

    public struct Color
    {
        public float r, g, b, a;
        public Color(float r, float g, float b, float a) { this.r = r; this.g = g; this.b = b; this.a = a; }
    }

    public class Shader : Object
    {
        public static Shader Find(string name) { return new Shader { name = name }; }
    }

    public class Material : Object
    {
        public Shader shader;
        public Material(Shader s) { shader = s; }
    }

    public class Component : Object
    {
        public GameObject gameObject;
        public Transform transform { get { return gameObject.transform; } }
    }

    public class Behaviour : Component { public bool enabled = true; }

    public class MonoBehaviour : Behaviour { }

    public class Transform : Component
    {
        public Transform parent;
        public readonly List<Transform> children = new List<Transform>();
        public Vector3 localPosition;

        public void SetParent(Transform p, bool worldPositionStays)
        {
            if (parent != null) parent.children.Remove(this);
            parent = p;
            if (p != null) p.children.Add(this);
        }

        public int childCount { get { return children.Count; } }
    }

    public sealed class GameObject : Object
    {
        private readonly List<Component> _components = new List<Component>();
        public Transform transform;
        public bool activeSelf = true;

        public GameObject(string name)
        {
            this.name = name;
            transform = new Transform { gameObject = this, name = name };
        }

        public T AddComponent<T>() where T : Component, new()
        {
            var c = new T { gameObject = this };
            _components.Add(c);
            return c;
        }

        public void SetActive(bool value) { activeSelf = value; }
    }

    public class LineRenderer : Component
    {
        public bool useWorldSpace = true, loop;
        public float startWidth, endWidth;
        public Color startColor, endColor;
        public Material material;
        private Vector3[] _positions = new Vector3[0];

        public int positionCount
        {
            get { return _positions.Length; }
            set { Array.Resize(ref _positions, value); }
        }

        public void SetPosition(int index, Vector3 p) { _positions[index] = p; }
        public Vector3 GetPosition(int index) { return _positions[index]; }
    }

    public static class Debug
    {
        public static void Log(object m) { Console.Error.WriteLine("[Log] " + m); }
        public static void LogWarning(object m) { Console.Error.WriteLine("[Warning] " + m); }
    }
}
