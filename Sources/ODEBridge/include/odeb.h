// ODEBridge: a thin, flat C API over the Open Dynamics Engine (double precision).
//
// Conventions (as in MuJoCo's C API, every array states its shape):
//   - World frame: z up, gravity along -z by default, the ground is the plane z = 0.
//   - A body's frame is at its centre of mass (ODE's requirement); its orientation is the link frame's.
//     Callers (the Swift Physics/Robots layers) convert link frames to COM frames and back.
//   - Quaternions are (w, x, y, z), body -> world.
//   - Body state, 13 doubles per body: position (3, m), quaternion (4), linear velocity of the COM (3, m/s),
//     angular velocity (3, rad/s), all in the world frame.
//   - Joint coordinates: hinge angle in rad (unwrapped: continuous joints count whole turns), slider
//     displacement in m. Joint velocities in rad/s or m/s.
//   - Every function takes the world first; indices are 0-based in creation order.
//   - No allocation happens inside odeb_world_step; buffers are sized at build time.
// Functions return 0 on success and a negative or ODEB_STATUS_* code on failure; odeb_world_last_error()
// describes the last failure.
#ifndef ODEB_H
#define ODEB_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct odeb_world odeb_world;

/// Geometry kinds. `size`: box = full side lengths (x, y, z); sphere = (radius, -, -);
/// cylinder and capsule = (radius, length along local z, -) (capsule length excludes the caps).
enum odeb_geom_type { ODEB_GEOM_BOX = 0, ODEB_GEOM_SPHERE = 1, ODEB_GEOM_CYLINDER = 2, ODEB_GEOM_CAPSULE = 3 };

/// Joint kinds: hinge (revolute/continuous), slider (prismatic), fixed (weld).
enum odeb_joint_type { ODEB_JOINT_HINGE = 0, ODEB_JOINT_SLIDER = 1, ODEB_JOINT_FIXED = 2 };

/// Actuator modes: torque (command = N·m or N), position (command = target in rad or m, PD at the physics
/// rate: tau = strength · clamp(kp (target − q) − kd q̇, ±effort_limit), with the damping term implicit —
/// evaluated at the end-of-step velocity through the joint's motor row — so stiff gains stay stable).
enum odeb_actuator_mode { ODEB_ACT_TORQUE = 0, ODEB_ACT_POSITION = 1 };

/// Status codes of odeb_world_step.
enum odeb_status {
    ODEB_STATUS_OK = 0,
    ODEB_STATUS_NONFINITE_COMMAND = 1,   ///< a command was NaN or infinite; the world was not stepped
    ODEB_STATUS_NONFINITE_STATE = 2,     ///< the state became NaN/Inf; restore or rebuild the world
    ODEB_STATUS_SPEED_LIMIT = 3,         ///< a body exceeded max_linear_speed / max_angular_speed
    ODEB_STATUS_ODE_ERROR = 4,           ///< ODE reported an internal error; rebuild the world
};

/// World settings. All can be changed on a live world with odeb_world_set_params.
typedef struct {
    double gravity[3];          ///< m/s², world frame
    double dt;                  ///< physics time step, s
    int iterations;             ///< QuickStep (projected Gauss–Seidel) iterations per step
    int exact_solver;           ///< 1: dWorldStep (Dantzig LCP, exact, O(rows³)); 0: dWorldQuickStep (iterative)
    double sor_w;               ///< successive over-relaxation factor (ODE default 1.3)
    double erp;                 ///< global error reduction parameter (0…1)
    double cfm;                 ///< global constraint force mixing
    int ground;                 ///< 1: a static plane z = 0 that robot geoms collide with
    double mu;                  ///< Coulomb friction coefficient (friction pyramid, dContactApprox1)
    double contact_erp;         ///< contact ERP (softness)
    double contact_cfm;         ///< contact CFM (softness)
    double bounce;              ///< restitution 0…1
    double bounce_velocity;     ///< minimum incoming speed for restitution, m/s
    double rolling_friction;    ///< rolling friction coefficient (dContactRolling), 0 = off
    int max_contacts;           ///< contact points per geom–ground pair (1…8)
    double max_linear_speed;    ///< divergence threshold, m/s
    double max_angular_speed;   ///< divergence threshold, rad/s
} odeb_world_params;

/// Fills `p` with the defaults the Swift layer documents (dt 0.002, 20 iterations, …).
void odeb_world_params_default(odeb_world_params* p);

/// Creates an empty world (initializes ODE once per process and per thread as needed).
/// `seed` seeds the world's own stream for QuickStep's random constraint reordering.
odeb_world* odeb_world_create(const odeb_world_params* params, unsigned int seed);
void odeb_world_destroy(odeb_world* w);
/// Replaces the world settings (live; takes effect at the next step).
void odeb_world_set_params(odeb_world* w, const odeb_world_params* params);
/// Copies the world settings in effect (max_contacts as clamped to 1…8).
void odeb_world_get_params(const odeb_world* w, odeb_world_params* params);

/// Adds a rigid body with its frame at the centre of mass. `inertia` (3×3 row-major, kg·m²) is about the
/// COM in the body frame. Returns the body index or -1.
int odeb_world_add_body(odeb_world* w, const double pos[3], const double quat[4], double mass, const double inertia[9]);
/// Changes a body's mass and inertia (about the COM, body frame) on a live world.
int odeb_body_set_mass(odeb_world* w, int body, double mass, const double inertia[9]);
/// Reads a body's mass (kg) and inertia (about the COM, body frame, 3×3 row-major, kg·m²); either may be NULL.
int odeb_body_get_mass(const odeb_world* w, int body, double* mass, double inertia[9]);
/// Adds a collision geometry to `body`, placed at `rel_pos`/`rel_quat` in the body (COM) frame.
/// `mu` < 0 uses the world's friction coefficient. Returns the geom index or -1.
int odeb_world_add_geom(odeb_world* w, int body, int type, const double size[3], const double rel_pos[3],
                        const double rel_quat[4], double mu);
/// Sets a geom's friction coefficient (< 0: the world's).
int odeb_geom_set_friction(odeb_world* w, int geom, double mu);
/// Moves a geom within its body: new pose `rel_pos`/`rel_quat` in the body (COM) frame (used when a body's
/// centre of mass moves in its link frame).
int odeb_geom_set_offset(odeb_world* w, int geom, const double rel_pos[3], const double rel_quat[4]);
/// Adds a joint between `parent` (-1 = the static world) and `child`. `anchor` (m) and `axis` (unit) are in
/// the world frame at the bodies' current poses, which are joint position `position`. When lower <= upper
/// the joint has stops at [lower, upper]; a hinge's stops must lie within π of `position` (ODE measures
/// hinge angles in (-π, π] from the build pose), so build limited hinges at the middle of their range. `damping` is viscous
/// (N·m·s/rad or N·s/m, applied explicitly each step), `friction` is Coulomb (N·m or N, an ODE motor with
/// zero target velocity and this force limit; with the exact solver, while the joint slides faster than
/// 2·friction·dt / I_child-about-the-axis, the torque −friction·sign(rate) instead, the row off). Returns the
/// joint index or -1.
int odeb_world_add_joint(odeb_world* w, int type, int parent, int child, const double anchor[3], const double axis[3],
                         double position, double lower, double upper, double damping, double friction);
/// Changes a joint's damping and Coulomb friction on a live world.
int odeb_joint_set_dynamics(odeb_world* w, int joint, double damping, double friction);
/// Reads a joint's damping and Coulomb friction; either pointer may be NULL.
int odeb_joint_get_dynamics(const odeb_world* w, int joint, double* damping, double* friction);
/// Re-declares a joint's anchor and axis (world frame) with its bodies at the joint's build position (the
/// caller puts them there first: hinge angle and slider offset are measured from these poses again), as
/// odeb_world_add_joint did. Used after a body's centre of mass moved in its link frame: ODE keeps anchors
/// in each body's COM frame. Stops, damping, friction and actuators are kept.
int odeb_joint_reset_frame(odeb_world* w, int joint, const double anchor[3], const double axis[3]);

/// Declares the actuators: actuator i drives joint `joints[i]` in `modes[i]`, with PD gains `kp`, `kd`
/// (position mode), |torque| limit `effort_limit` (<= 0: unlimited), velocity limit `velocity_limit`
/// (<= 0: none; at the limit a motor does not push further in the direction of motion, and a PD servo's
/// velocity target is clamped to it — as Gazebo applies URDF velocity limits) and a `strength` multiplier
/// (1 nominal). Replaces any earlier declaration. Returns 0 or -1.
int odeb_world_set_actuators(odeb_world* w, int n, const int* joints, const int* modes, const double* kp,
                             const double* kd, const double* effort_limit, const double* velocity_limit,
                             const double* strength);

/// Changes actuator `i`'s mode, PD gains and strength on a live world (joint, effort and velocity limits
/// unchanged). Returns 0 or -1.
int odeb_world_set_actuator(odeb_world* w, int i, int mode, double kp, double kd, double strength);
/// Reads actuator `i`'s mode, gains and strength; any pointer may be NULL.
int odeb_world_get_actuator(const odeb_world* w, int i, int* mode, double* kp, double* kd, double* strength);

/// Advances `substeps` physics steps holding `command` (one per actuator) constant; PD torques are
/// recomputed every substep. `applied` (actuators, may be NULL) receives the mean actuator torque over the
/// substeps. The world is checked for non-finite values and speed limits after every substep and stops at
/// the first failure. Returns an odeb_status.
int odeb_world_step(odeb_world* w, int substeps, const double* command, double* applied);

/// Number of bodies, joints, actuators, geoms.
int odeb_world_body_count(const odeb_world* w);
int odeb_world_joint_count(const odeb_world* w);
int odeb_world_actuator_count(const odeb_world* w);
int odeb_world_geom_count(const odeb_world* w);
/// Doubles in a full state: 13 per body + 1 per joint (the unwrapped joint coordinate) + 1 (simulated time).
int odeb_world_state_size(const odeb_world* w);
/// Copies the full state into `out` (odeb_world_state_size doubles).
void odeb_world_get_state(const odeb_world* w, double* out);
/// Restores a full state written by odeb_world_get_state (bit-exact continuation when paired with the seed).
void odeb_world_set_state(odeb_world* w, const double* in);
/// The world's random stream position (QuickStep constraint reordering), for snapshots.
unsigned int odeb_world_get_seed(const odeb_world* w);
void odeb_world_set_seed(odeb_world* w, unsigned int seed);
/// Joint coordinates and velocities for all joints (fixed joints report 0): `q`, `qd` shape (joints).
void odeb_world_get_joints(const odeb_world* w, double* q, double* qd);
/// Per body, the number of ground contact points at the last substep (`counts`, shape (bodies)) and the
/// total contact force on the body in the world frame (`forces`, shape (bodies × 3), N; may be NULL).
void odeb_world_get_contacts(const odeb_world* w, int* counts, double* forces);
/// Per geom, the number of ground contact points at the last substep (`counts`, shape (geoms)).
void odeb_world_get_geom_contacts(const odeb_world* w, int* counts);
/// Simulated time in seconds.
double odeb_world_time(const odeb_world* w);
/// A message describing the last failure (empty when none).
const char* odeb_world_last_error(const odeb_world* w);

/// 1 when ODE's random generator is interposed per world/thread (needed for bit-exact multi-threaded
/// determinism); 0 when the process uses ODE's global generator.
int odeb_rng_is_per_thread(void);

#ifdef __cplusplus
}
#endif
#endif
