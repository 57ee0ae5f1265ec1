// ODEBridge implementation. See include/odeb.h for the conventions.
#define _GNU_SOURCE
#include "odeb.h"
#include "../CODE/shim.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ODEB_MAX_CONTACTS 8

typedef struct {
    dJointID id;
    dJointID friction_motor;  // an extra angular/linear motor row for Coulomb friction on servoed joints
    int type;
    int servo;                // 1 while a position actuator drives this joint's own motor row
    dBodyID body1, body2;     // child, parent (NULL = world)
    double axis[3];           // world axis at creation
    int parent, child;
    double offset;     // hinge: q = ODE angle + offset (keeps the stops inside ODE's (-π, π])
    double q;          // current unwrapped coordinate
    double damping;
    double friction;
    double friction_vth;      // |rate| above which friction is an explicit torque (see odeb_joint_friction_mode)
    double axis_body[3];      // hinge: the axis in the child body's frame, and the squared distance of the
    double perp2;             // child's COM from the axis (m²): fixed geometry, cached by odeb_joint_cache_geometry
    int friction_explicit;    // 1 while the friction row is off and the torque is applied explicitly
} odeb_joint;

struct odeb_world {
    dWorldID world;
    dGeomID ground;
    dJointGroupID contact_group;
    dThreadingImplementationID threading;   // this world's own (self-threaded) stepping implementation
    odeb_world_params params;

    dBodyID* bodies; int nbody, cap_body;
    double* quat_in;   // (bodies × 4) the last quaternion passed to dBodySetQuaternion per body
    dGeomID* geoms; int* geom_body; double* geom_mu; int ngeom, cap_geom;
    double* geom_bound;   // per geom: radius about its body's COM of a sphere holding the shape (m)
    double* geom_shape_r; // per geom: the shape's own bounding radius about its centre (m)
    odeb_joint* joints; int njoint, cap_joint;

    // actuators
    int nact;
    int* act_joint; int* act_mode;
    double* act_kp; double* act_kd; double* act_limit; double* act_strength;
    double* act_vmax;  // velocity limit (<= 0: none)
    double* act_err;   // position error at the start of the current substep (implicit PD)

    // contact results of the last substep
    int* contact_count;          // (bodies)
    int* geom_contact_count;     // (geoms)
    double* contact_force;       // (bodies × 3)
    dJointFeedback* feedback;    // (geoms × max contacts)
    int* feedback_body;
    int nfeedback;

    unsigned int seed;
    double time;
    int broken;
    char error[512];
};

// MARK: - process and thread set-up

static pthread_once_t odeb_once = PTHREAD_ONCE_INIT;
static _Thread_local int odeb_thread_ready = 0;
static _Thread_local jmp_buf* odeb_jump = NULL;
static _Thread_local char odeb_thread_error[400];

static void odeb_error_handler(int num, const char* msg, va_list ap) {
    // turn ODE's fatal errors into a reported failure of the current step (ODE would abort otherwise)
    vsnprintf(odeb_thread_error, sizeof odeb_thread_error, msg, ap);
    if (odeb_jump) longjmp(*odeb_jump, num ? num : 1);
    fprintf(stderr, "ODE error %d: %s\n", num, odeb_thread_error);
}

static void odeb_message_handler(int num, const char* msg, va_list ap) {
    // informational messages (e.g. "LCP internal error, s <= 0") are not failures; keep them quiet
    (void)num; (void)msg; (void)ap;
}

static void odeb_init_process(void) {
    dInitODE2(0);
    dSetErrorHandler(odeb_error_handler);
    dSetDebugHandler(odeb_error_handler);
    dSetMessageHandler(odeb_message_handler);
}

static void odeb_init_thread(void) {
    pthread_once(&odeb_once, odeb_init_process);
    if (!odeb_thread_ready) {
        dAllocateODEDataForThread(dAllocateMaskAll);
        odeb_thread_ready = 1;
    }
}

// MARK: - a per-thread replacement for ODE's global random generator
// QuickStep reorders constraint rows randomly through dRandInt, which in libode uses one process-global
// seed. libode calls it through its PLT, so these definitions take its place: each world keeps its own
// seed and installs it in this thread-local slot around its step, which makes stepping deterministic per
// world even with several worlds stepping on several threads, and lets a snapshot carry the seed.
static _Thread_local unsigned long odeb_rand_seed = 0;

unsigned long dRand(void) {
    odeb_rand_seed = (1664525UL * odeb_rand_seed + 1013904223UL) & 0xffffffffUL;
    return odeb_rand_seed;
}
unsigned long dRandGetSeed(void) { return odeb_rand_seed; }
void dRandSetSeed(unsigned long s) { odeb_rand_seed = s & 0xffffffffUL; }
int dRandInt(int n) {
    if (n <= 0) return 0;
    return (int)(((uint64_t)(dRand() & 0xffffffffUL) * (uint64_t)n) >> 32);
}
dReal dRandReal(void) { return ((dReal)dRand()) / ((dReal)0xffffffffUL); }

int odeb_rng_is_per_thread(void) {
    void* found = dlsym(RTLD_DEFAULT, "dRandInt");
    return found == (void*)&dRandInt;
}

// MARK: - helpers

static void* odeb_grow(void* p, int* cap, int need, size_t elem) {
    if (need <= *cap) return p;
    int c = *cap ? *cap : 8;
    while (c < need) c *= 2;
    void* q = realloc(p, (size_t)c * elem);
    if (!q) return NULL;
    *cap = c;
    return q;
}

static double odeb_wrap_pi(double a) {
    a = fmod(a + M_PI, 2.0 * M_PI);
    if (a < 0) a += 2.0 * M_PI;
    return a - M_PI;
}

static void odeb_joint_motor(odeb_joint* j, double vel, double fmax, double cfm);

static int odeb_finite3(const dReal* v) { return isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]); }

/// Re-sets body i's quaternion from its own value and remembers that input. dBodySetQuaternion normalizes
/// its argument, and normalizing a unit quaternion can move its last bit (sometimes back and forth), so a
/// snapshot stores the *input* of the last dBodySetQuaternion: restoring it reproduces the body's
/// quaternion and rotation matrix bit for bit.
static void odeb_settle_quaternion(odeb_world* w, int i) {
    dBodyID b = w->bodies[i];
    const dReal* q = dBodyGetQuaternion(b);
    double* in = &w->quat_in[4 * i];
    in[0] = q[0]; in[1] = q[1]; in[2] = q[2]; in[3] = q[3];
    if (!(isfinite(in[0]) && isfinite(in[1]) && isfinite(in[2]) && isfinite(in[3]))) return;
    dQuaternion qq = { in[0], in[1], in[2], in[3] };
    dBodySetQuaternion(b, qq);
}

void odeb_world_params_default(odeb_world_params* p) {
    memset(p, 0, sizeof *p);
    p->gravity[2] = -9.81;
    p->dt = 0.002;
    p->iterations = 20;
    p->exact_solver = 0;
    p->sor_w = 1.3;
    p->erp = 0.2;
    p->cfm = 1e-10;
    p->ground = 1;
    p->mu = 1.0;
    p->contact_erp = 0.2;
    p->contact_cfm = 1e-5;
    p->bounce = 0.0;
    p->bounce_velocity = 0.1;
    p->rolling_friction = 0.0;
    p->max_contacts = 4;
    p->max_linear_speed = 100.0;
    p->max_angular_speed = 500.0;
}

// MARK: - world lifecycle

static void odeb_apply_params(odeb_world* w) {
    const odeb_world_params* p = &w->params;
    dWorldSetGravity(w->world, p->gravity[0], p->gravity[1], p->gravity[2]);
    dWorldSetQuickStepNumIterations(w->world, p->iterations > 0 ? p->iterations : 1);
    dWorldSetQuickStepW(w->world, p->sor_w);
    dWorldSetERP(w->world, p->erp);
    dWorldSetCFM(w->world, p->cfm);
    dWorldSetContactSurfaceLayer(w->world, 0.0);
    if (p->ground && !w->ground) w->ground = dCreatePlane(0, 0, 0, 1, 0);
    if (!p->ground && w->ground) { dGeomDestroy(w->ground); w->ground = 0; }
    if (w->params.max_contacts < 1) w->params.max_contacts = 1;
    if (w->params.max_contacts > ODEB_MAX_CONTACTS) w->params.max_contacts = ODEB_MAX_CONTACTS;
}

odeb_world* odeb_world_create(const odeb_world_params* params, unsigned int seed) {
    odeb_init_thread();
    odeb_world* w = calloc(1, sizeof *w);
    if (!w) return NULL;
    if (params) w->params = *params; else odeb_world_params_default(&w->params);
    w->world = dWorldCreate();
    // ODE's default threading implementation is one process-wide object shared by every world; stepping
    // two worlds on two threads through it corrupts memory. Give each world its own.
    w->threading = dThreadingAllocateSelfThreadedImplementation();
    dWorldSetStepThreadingImplementation(w->world, dThreadingImplementationGetFunctions(w->threading), w->threading);
    w->contact_group = dJointGroupCreate(0);
    w->seed = seed;
    // bodies never fall asleep: planners and learners need every step simulated
    dWorldSetAutoDisableFlag(w->world, 0);
    odeb_apply_params(w);
    return w;
}

void odeb_world_destroy(odeb_world* w) {
    if (!w) return;
    odeb_init_thread();
    dJointGroupDestroy(w->contact_group);
    for (int i = 0; i < w->ngeom; i++) dGeomDestroy(w->geoms[i]);
    if (w->ground) dGeomDestroy(w->ground);
    dWorldSetStepThreadingImplementation(w->world, NULL, NULL);
    dWorldDestroy(w->world);  // destroys bodies and joints
    dThreadingFreeImplementation(w->threading);
    free(w->bodies); free(w->quat_in); free(w->geoms); free(w->geom_body); free(w->geom_mu); free(w->geom_bound); free(w->geom_shape_r); free(w->joints);
    free(w->act_joint); free(w->act_mode); free(w->act_kp); free(w->act_kd); free(w->act_limit); free(w->act_strength);
    free(w->act_err); free(w->act_vmax);
    free(w->contact_count); free(w->contact_force); free(w->feedback); free(w->feedback_body);
    free(w->geom_contact_count);
    free(w);
}

static void odeb_joint_apply_dynamics(odeb_world* w, odeb_joint* j);

void odeb_world_get_params(const odeb_world* w, odeb_world_params* params) { *params = w->params; }

void odeb_world_set_params(odeb_world* w, const odeb_world_params* params) {
    odeb_init_thread();
    int old_max = w->params.max_contacts;
    w->params = *params;
    odeb_apply_params(w);
    // the joints' friction rows use the world's CFM and their sliding thresholds its time step
    for (int k = 0; k < w->njoint; k++) odeb_joint_apply_dynamics(w, &w->joints[k]);
    if (w->params.max_contacts != old_max) {
        // contact feedback buffers depend on max_contacts
        free(w->feedback); free(w->feedback_body);
        size_t n = (size_t)(w->ngeom > 0 ? w->ngeom : 1) * (size_t)w->params.max_contacts;
        w->feedback = calloc(n, sizeof(dJointFeedback));
        w->feedback_body = calloc(n, sizeof(int));
    }
}

// MARK: - building

static int odeb_set_mass(dBodyID b, double mass, const double I[9]) {
    dMass m;
    dMassSetZero(&m);
    m.mass = mass;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) m.I[r * 4 + c] = I[r * 3 + c];
    if (!(mass > 0) || !dMassCheck(&m)) return -1;
    dBodySetMass(b, &m);
    return 0;
}

int odeb_world_add_body(odeb_world* w, const double pos[3], const double quat[4], double mass, const double inertia[9]) {
    odeb_init_thread();
    int cap = w->cap_body;
    void* p = odeb_grow(w->bodies, &cap, w->nbody + 1, sizeof(dBodyID));
    if (!p) return -1;
    w->bodies = p;
    cap = w->cap_body;
    void* qi = odeb_grow(w->quat_in, &cap, w->nbody + 1, 4 * sizeof(double));
    if (!qi) return -1;
    w->quat_in = qi;
    w->cap_body = cap;
    dBodyID b = dBodyCreate(w->world);
    if (odeb_set_mass(b, mass, inertia) != 0) {
        snprintf(w->error, sizeof w->error, "body %d: invalid mass %g or inertia (must be positive definite)", w->nbody, mass);
        dBodyDestroy(b);
        return -1;
    }
    dBodySetPosition(b, pos[0], pos[1], pos[2]);
    dQuaternion q = { quat[0], quat[1], quat[2], quat[3] };
    dBodySetQuaternion(b, q);
    dBodySetData(b, (void*)(intptr_t)w->nbody);
    w->bodies[w->nbody] = b;
    for (int k = 0; k < 4; k++) w->quat_in[4 * w->nbody + k] = quat[k];
    w->nbody += 1;
    free(w->contact_count); free(w->contact_force);
    w->contact_count = calloc((size_t)w->nbody, sizeof(int));
    w->contact_force = calloc((size_t)w->nbody * 3, sizeof(double));
    return w->nbody - 1;
}

int odeb_body_set_mass(odeb_world* w, int body, double mass, const double inertia[9]) {
    if (body < 0 || body >= w->nbody) return -1;
    if (odeb_set_mass(w->bodies[body], mass, inertia) != 0) {
        snprintf(w->error, sizeof w->error, "body %d: invalid mass %g or inertia (must be positive definite)", body, mass);
        return -1;
    }
    // the friction thresholds of the joints that move this body depend on its inertia
    for (int k = 0; k < w->njoint; k++)
        if (w->joints[k].child == body) odeb_joint_apply_dynamics(w, &w->joints[k]);
    return 0;
}

int odeb_body_get_mass(const odeb_world* w, int body, double* mass, double inertia[9]) {
    if (body < 0 || body >= w->nbody) return -1;
    dMass m;
    dBodyGetMass(w->bodies[body], &m);
    if (mass) *mass = m.mass;
    if (inertia)
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) inertia[r * 3 + c] = m.I[r * 4 + c];
    return 0;
}

int odeb_world_add_geom(odeb_world* w, int body, int type, const double size[3], const double rel_pos[3],
                        const double rel_quat[4], double mu) {
    odeb_init_thread();
    if (body < 0 || body >= w->nbody) return -1;
    int cap = w->cap_geom;
    void* g = odeb_grow(w->geoms, &cap, w->ngeom + 1, sizeof(dGeomID)); if (!g) return -1; w->geoms = g;
    cap = w->cap_geom;
    void* gb = odeb_grow(w->geom_body, &cap, w->ngeom + 1, sizeof(int)); if (!gb) return -1; w->geom_body = gb;
    cap = w->cap_geom;
    void* gm = odeb_grow(w->geom_mu, &cap, w->ngeom + 1, sizeof(double)); if (!gm) return -1; w->geom_mu = gm;
    cap = w->cap_geom;
    void* gr = odeb_grow(w->geom_bound, &cap, w->ngeom + 1, sizeof(double)); if (!gr) return -1; w->geom_bound = gr;
    cap = w->cap_geom;
    void* gs = odeb_grow(w->geom_shape_r, &cap, w->ngeom + 1, sizeof(double)); if (!gs) return -1; w->geom_shape_r = gs;
    w->cap_geom = cap;
    dGeomID geom = 0;
    switch (type) {
    case ODEB_GEOM_BOX: geom = dCreateBox(0, size[0], size[1], size[2]); break;
    case ODEB_GEOM_SPHERE: geom = dCreateSphere(0, size[0]); break;
    case ODEB_GEOM_CYLINDER: geom = dCreateCylinder(0, size[0], size[1]); break;
    case ODEB_GEOM_CAPSULE: geom = dCreateCapsule(0, size[0], size[1]); break;
    default:
        snprintf(w->error, sizeof w->error, "geom: unknown type %d", type);
        return -1;
    }
    dGeomSetBody(geom, w->bodies[body]);
    dGeomSetOffsetPosition(geom, rel_pos[0], rel_pos[1], rel_pos[2]);
    dQuaternion q = { rel_quat[0], rel_quat[1], rel_quat[2], rel_quat[3] };
    dGeomSetOffsetQuaternion(geom, q);
    w->geoms[w->ngeom] = geom;
    w->geom_body[w->ngeom] = body;
    w->geom_mu[w->ngeom] = mu;
    // a sphere about the body's COM that holds the shape: |offset| + the shape's own bounding radius
    double shape_r = 0;
    switch (type) {
    case ODEB_GEOM_BOX: shape_r = 0.5 * sqrt(size[0] * size[0] + size[1] * size[1] + size[2] * size[2]); break;
    case ODEB_GEOM_SPHERE: shape_r = size[0]; break;
    case ODEB_GEOM_CYLINDER: shape_r = sqrt(size[0] * size[0] + 0.25 * size[1] * size[1]); break;
    default: shape_r = size[0] + 0.5 * size[1]; break;  // capsule
    }
    w->geom_shape_r[w->ngeom] = shape_r;
    w->geom_bound[w->ngeom] = sqrt(rel_pos[0] * rel_pos[0] + rel_pos[1] * rel_pos[1] + rel_pos[2] * rel_pos[2]) + shape_r;
    w->ngeom += 1;
    free(w->geom_contact_count);
    w->geom_contact_count = calloc((size_t)w->ngeom, sizeof(int));
    free(w->feedback); free(w->feedback_body);
    size_t n = (size_t)w->ngeom * (size_t)w->params.max_contacts;
    w->feedback = calloc(n, sizeof(dJointFeedback));
    w->feedback_body = calloc(n, sizeof(int));
    return w->ngeom - 1;
}

int odeb_geom_set_friction(odeb_world* w, int geom, double mu) {
    if (geom < 0 || geom >= w->ngeom) return -1;
    w->geom_mu[geom] = mu;
    return 0;
}

int odeb_geom_set_offset(odeb_world* w, int geom, const double rel_pos[3], const double rel_quat[4]) {
    odeb_init_thread();
    if (geom < 0 || geom >= w->ngeom) return -1;
    dGeomSetOffsetPosition(w->geoms[geom], rel_pos[0], rel_pos[1], rel_pos[2]);
    dQuaternion q = { rel_quat[0], rel_quat[1], rel_quat[2], rel_quat[3] };
    dGeomSetOffsetQuaternion(w->geoms[geom], q);
    w->geom_bound[geom] = sqrt(rel_pos[0] * rel_pos[0] + rel_pos[1] * rel_pos[1] + rel_pos[2] * rel_pos[2]) + w->geom_shape_r[geom];
    return 0;
}

static double odeb_joint_rate(const odeb_joint* j);

/// Caches a hinge's fixed geometry for odeb_friction_threshold: its axis in the child body's frame,
/// a_b = Rᵀ a, and the squared distance of the child's COM from the axis, |r⊥|² with r = COM − anchor. Both
/// are constant while the joint exists (the axis turns with the child), so they are taken once from the
/// poses at creation (and again when the joint's frame is reset), which keeps the threshold independent of
/// the pose at which a parameter changes.
static void odeb_joint_cache_geometry(odeb_joint* j) {
    if (j->type != ODEB_JOINT_HINGE) return;
    const dReal* R = dBodyGetRotation(j->body1);
    dVector3 axis;
    dJointGetHingeAxis(j->id, axis);
    double a[3] = {axis[0], axis[1], axis[2]};
    for (int c = 0; c < 3; c++) j->axis_body[c] = R[0 * 4 + c] * a[0] + R[1 * 4 + c] * a[1] + R[2 * 4 + c] * a[2];
    dVector3 anchor;
    dJointGetHingeAnchor(j->id, anchor);
    const dReal* p = dBodyGetPosition(j->body1);
    double r[3] = {p[0] - anchor[0], p[1] - anchor[1], p[2] - anchor[2]};
    double ra = r[0] * a[0] + r[1] * a[1] + r[2] * a[2];
    j->perp2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2] - ra * ra;
}

/// The rate above which a joint's Coulomb friction is applied as an explicit torque −f·sign(q̇) instead of a
/// bounded constraint row (exact solver only, see odeb_joint_friction_mode): 2·f·dt / I, with I the child body's inertia about the joint axis (mass for a
/// slider). While sliding, Coulomb friction is exactly that torque, and every row left out of ODE's Dantzig
/// LCP saves pivoting (the 7 bounded friction rows were ~35 % of an arm step). The factor: one step of
/// explicit friction changes the rate by at most f·dt/I_eff; as long as the joint's effective inertia is at
/// least a quarter of I, a step that crosses zero ends below the threshold, so the next step uses the row,
/// which sticks the joint — no chatter about zero.
static double odeb_friction_threshold(const odeb_world* w, const odeb_joint* j, double f) {
    dMass m;
    dBodyGetMass(j->body1, &m);
    double inertia;
    if (j->type == ODEB_JOINT_SLIDER) {
        inertia = m.mass;
    } else {
        // I_axis = a_bᵀ I a_b + m·|r⊥|² (the parallel-axis theorem about the hinge axis)
        const double* ab = j->axis_body;
        inertia = 0;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) inertia += ab[r] * m.I[r * 4 + c] * ab[c];
        inertia += m.mass * (j->perp2 > 0 ? j->perp2 : 0);
    }
    if (!(inertia > 0)) return INFINITY;  // no usable inertia: always the row
    return 2.0 * f * w->params.dt / inertia;
}

/// Chooses, from the joint's current rate alone (so a restored state steps identically), between the
/// friction row (|q̇| ≤ friction_vth: the joint may stick) and an explicit torque −f·sign(q̇) (sliding);
/// switches the row off or on when the choice changes and applies the torque. Only with the exact solver
/// (dWorldStep), whose Dantzig LCP pays for every bounded row in pivoting; QuickStep's projected
/// Gauss–Seidel costs the same per row whatever its bounds, so there the row always stays.
static void odeb_joint_friction_mode(const odeb_world* w, odeb_joint* j) {
    double f = j->friction;
    if (!(f > 0) || (j->type != ODEB_JOINT_HINGE && j->type != ODEB_JOINT_SLIDER)) return;
    double qd = odeb_joint_rate(j);
    int explicit_mode = w->params.exact_solver && fabs(qd) > j->friction_vth;
    if (explicit_mode != j->friction_explicit) {
        double fmax = explicit_mode ? 0.0 : f;
        if (j->servo) {
            if (j->type == ODEB_JOINT_HINGE) dJointSetAMotorParam(j->friction_motor, dParamFMax, fmax);
            else dJointSetLMotorParam(j->friction_motor, dParamFMax, fmax);
        } else {
            if (j->type == ODEB_JOINT_HINGE) dJointSetHingeParam(j->id, dParamFMax, fmax);
            else dJointSetSliderParam(j->id, dParamFMax, fmax);
        }
        j->friction_explicit = explicit_mode;
    }
    if (explicit_mode) {
        double tau = qd > 0 ? -f : f;
        if (j->type == ODEB_JOINT_HINGE) dJointAddHingeTorque(j->id, tau);
        else dJointAddSliderForce(j->id, tau);
    }
}

static void odeb_joint_apply_dynamics(odeb_world* w, odeb_joint* j) {
    // Coulomb friction is a motor row with zero target velocity and the friction as its force limit
    // (implicit, so it holds a joint still without chatter; ODE skips a row whose limit is 0). It uses the
    // joint's own motor row, unless a position servo owns that row: then an extra angular (hinge) or linear
    // (slider) motor on the same axis carries it.
    if (j->type != ODEB_JOINT_HINGE && j->type != ODEB_JOINT_SLIDER) return;
    double f = j->friction > 0 ? j->friction : 0.0;
    j->friction_explicit = 0;
    j->friction_vth = f > 0 ? odeb_friction_threshold(w, j, f) : 0.0;
    if (!j->servo) {
        if (j->type == ODEB_JOINT_HINGE) {
            dJointSetHingeParam(j->id, dParamVel, 0.0);
            dJointSetHingeParam(j->id, dParamFMax, f);
            dJointSetHingeParam(j->id, dParamCFM, w->params.cfm);
        } else {
            dJointSetSliderParam(j->id, dParamVel, 0.0);
            dJointSetSliderParam(j->id, dParamFMax, f);
            dJointSetSliderParam(j->id, dParamCFM, w->params.cfm);
        }
        f = 0.0;  // the extra row, if any, is off
    }
    if (!j->friction_motor) {
        if (f == 0.0) return;
        if (j->type == ODEB_JOINT_HINGE) {
            j->friction_motor = dJointCreateAMotor(w->world, 0);
            dJointAttach(j->friction_motor, j->body1, j->body2);
            dJointSetAMotorMode(j->friction_motor, dAMotorUser);
            dJointSetAMotorNumAxes(j->friction_motor, 1);
            dJointSetAMotorAxis(j->friction_motor, 0, 1, j->axis[0], j->axis[1], j->axis[2]);
        } else {
            j->friction_motor = dJointCreateLMotor(w->world, 0);
            dJointAttach(j->friction_motor, j->body1, j->body2);
            dJointSetLMotorNumAxes(j->friction_motor, 1);
            dJointSetLMotorAxis(j->friction_motor, 0, 1, j->axis[0], j->axis[1], j->axis[2]);
        }
    }
    if (j->type == ODEB_JOINT_HINGE) {
        dJointSetAMotorParam(j->friction_motor, dParamVel, 0.0);
        dJointSetAMotorParam(j->friction_motor, dParamFMax, f);
    } else {
        dJointSetLMotorParam(j->friction_motor, dParamVel, 0.0);
        dJointSetLMotorParam(j->friction_motor, dParamFMax, f);
    }
}

static double odeb_joint_raw(const odeb_joint* j) {
    if (j->type == ODEB_JOINT_HINGE) return dJointGetHingeAngle(j->id) + j->offset;
    if (j->type == ODEB_JOINT_SLIDER) return dJointGetSliderPosition(j->id) + j->offset;
    return 0.0;
}

static double odeb_joint_rate(const odeb_joint* j) {
    if (j->type == ODEB_JOINT_HINGE) return dJointGetHingeAngleRate(j->id);
    if (j->type == ODEB_JOINT_SLIDER) return dJointGetSliderPositionRate(j->id);
    return 0.0;
}

/// Brings the unwrapped coordinate up to date with ODE's reading (hinges read in (-π, π]).
static void odeb_joint_track(odeb_joint* j) {
    double raw = odeb_joint_raw(j);
    if (j->type == ODEB_JOINT_HINGE) j->q += odeb_wrap_pi(raw - j->q);
    else j->q = raw;
}

int odeb_world_add_joint(odeb_world* w, int type, int parent, int child, const double anchor[3], const double axis[3],
                         double position, double lower, double upper, double damping, double friction) {
    odeb_init_thread();
    if (child < 0 || child >= w->nbody || parent < -1 || parent >= w->nbody || parent == child) {
        snprintf(w->error, sizeof w->error, "joint: bad bodies parent %d child %d", parent, child);
        return -1;
    }
    void* p = odeb_grow(w->joints, &w->cap_joint, w->njoint + 1, sizeof(odeb_joint));
    if (!p) return -1;
    w->joints = p;
    odeb_joint* j = &w->joints[w->njoint];
    memset(j, 0, sizeof *j);
    j->type = type; j->parent = parent; j->child = child; j->damping = damping; j->friction = friction;
    dBodyID bc = w->bodies[child];
    dBodyID bp = parent >= 0 ? w->bodies[parent] : 0;
    int limited = lower <= upper;
    switch (type) {
    case ODEB_JOINT_HINGE: {
        if (limited && (upper - lower >= 2.0 * M_PI - 1e-6 || fabs(lower - position) >= M_PI || fabs(upper - position) >= M_PI)) {
            snprintf(w->error, sizeof w->error,
                     "hinge: range [%g, %g] must be narrower than 2π and within π of the build position %g", lower, upper, position);
            return -1;
        }
        j->id = dJointCreateHinge(w->world, 0);
        dJointAttach(j->id, bc, bp);
        dJointSetHingeAnchor(j->id, anchor[0], anchor[1], anchor[2]);
        // ODE reads 0 at the current poses, which are joint position `position`: q = ODE angle + offset.
        // (dJointSetHingeAxisOffset is not used: in ODE 0.16 it sets the reference rotation inverted.)
        j->offset = position;
        dJointSetHingeAxis(j->id, axis[0], axis[1], axis[2]);
        if (limited) {
            // set the wider side first so lo <= hi holds at every moment
            dJointSetHingeParam(j->id, dParamLoStop, -M_PI);
            dJointSetHingeParam(j->id, dParamHiStop, M_PI);
            dJointSetHingeParam(j->id, dParamLoStop, lower - j->offset);
            dJointSetHingeParam(j->id, dParamHiStop, upper - j->offset);
        }
        break;
    }
    case ODEB_JOINT_SLIDER:
        j->id = dJointCreateSlider(w->world, 0);
        dJointAttach(j->id, bc, bp);
        dJointSetSliderAxis(j->id, axis[0], axis[1], axis[2]);
        j->offset = position;
        if (limited) {
            dJointSetSliderParam(j->id, dParamLoStop, lower - position);
            dJointSetSliderParam(j->id, dParamHiStop, upper - position);
        }
        break;
    case ODEB_JOINT_FIXED:
        j->id = dJointCreateFixed(w->world, 0);
        dJointAttach(j->id, bc, bp);
        dJointSetFixed(j->id);
        break;
    default:
        snprintf(w->error, sizeof w->error, "joint: unknown type %d", type);
        return -1;
    }
    j->body1 = bc; j->body2 = bp;
    j->axis[0] = axis[0]; j->axis[1] = axis[1]; j->axis[2] = axis[2];
    odeb_joint_cache_geometry(j);
    odeb_joint_apply_dynamics(w, j);
    j->q = position;
    w->njoint += 1;
    return w->njoint - 1;
}

int odeb_joint_set_dynamics(odeb_world* w, int joint, double damping, double friction) {
    if (joint < 0 || joint >= w->njoint) return -1;
    w->joints[joint].damping = damping;
    w->joints[joint].friction = friction;
    odeb_joint_apply_dynamics(w, &w->joints[joint]);
    return 0;
}

int odeb_joint_get_dynamics(const odeb_world* w, int joint, double* damping, double* friction) {
    if (joint < 0 || joint >= w->njoint) return -1;
    if (damping) *damping = w->joints[joint].damping;
    if (friction) *friction = w->joints[joint].friction;
    return 0;
}

int odeb_joint_reset_frame(odeb_world* w, int joint, const double anchor[3], const double axis[3]) {
    odeb_init_thread();
    if (joint < 0 || joint >= w->njoint) return -1;
    odeb_joint* j = &w->joints[joint];
    // the same calls as at creation, at the same (build) poses: ODE recomputes the anchor in each body's
    // frame and, for a hinge, the reference rotation (angle 0 here, so q = angle + offset still holds); for a
    // slider, the reference offset between the bodies (position 0 here)
    switch (j->type) {
    case ODEB_JOINT_HINGE:
        dJointSetHingeAnchor(j->id, anchor[0], anchor[1], anchor[2]);
        dJointSetHingeAxis(j->id, axis[0], axis[1], axis[2]);
        break;
    case ODEB_JOINT_SLIDER:
        dJointSetSliderAxis(j->id, axis[0], axis[1], axis[2]);
        break;
    case ODEB_JOINT_FIXED:
        dJointSetFixed(j->id);
        break;
    default:
        return -1;
    }
    odeb_joint_cache_geometry(j);
    odeb_joint_apply_dynamics(w, j);
    return 0;
}

int odeb_world_set_actuators(odeb_world* w, int n, const int* joints, const int* modes, const double* kp,
                             const double* kd, const double* effort_limit, const double* velocity_limit,
                             const double* strength) {
    for (int i = 0; i < n; i++) {
        if (joints[i] < 0 || joints[i] >= w->njoint || w->joints[joints[i]].type == ODEB_JOINT_FIXED) {
            snprintf(w->error, sizeof w->error, "actuator %d: joint %d is not a hinge or slider", i, joints[i]);
            return -1;
        }
    }
    for (int i = 0; i < w->nact; i++) w->joints[w->act_joint[i]].servo = 0;
    free(w->act_joint); free(w->act_mode); free(w->act_kp); free(w->act_kd); free(w->act_limit); free(w->act_strength);
    size_t m = (size_t)(n > 0 ? n : 1);
    w->act_joint = malloc(m * sizeof(int)); w->act_mode = malloc(m * sizeof(int));
    w->act_kp = malloc(m * sizeof(double)); w->act_kd = malloc(m * sizeof(double));
    w->act_limit = malloc(m * sizeof(double)); w->act_strength = malloc(m * sizeof(double));
    free(w->act_err); free(w->act_vmax);
    w->act_err = calloc(m, sizeof(double));
    w->act_vmax = calloc(m, sizeof(double));
    if (n > 0) memcpy(w->act_vmax, velocity_limit, (size_t)n * sizeof(double));
    if (n > 0) {
        memcpy(w->act_joint, joints, (size_t)n * sizeof(int)); memcpy(w->act_mode, modes, (size_t)n * sizeof(int));
        memcpy(w->act_kp, kp, (size_t)n * sizeof(double)); memcpy(w->act_kd, kd, (size_t)n * sizeof(double));
        memcpy(w->act_limit, effort_limit, (size_t)n * sizeof(double)); memcpy(w->act_strength, strength, (size_t)n * sizeof(double));
    }
    w->nact = n;
    for (int i = 0; i < n; i++)
        if (modes[i] == ODEB_ACT_POSITION && kd[i] > 0) w->joints[joints[i]].servo = 1;
    for (int k = 0; k < w->njoint; k++) odeb_joint_apply_dynamics(w, &w->joints[k]);
    return 0;
}

int odeb_world_set_actuator(odeb_world* w, int i, int mode, double kp, double kd, double strength) {
    odeb_init_thread();
    if (i < 0 || i >= w->nact || (mode != ODEB_ACT_TORQUE && mode != ODEB_ACT_POSITION)) {
        snprintf(w->error, sizeof w->error, "actuator %d: no such actuator or mode %d", i, mode);
        return -1;
    }
    w->act_mode[i] = mode; w->act_kp[i] = kp; w->act_kd[i] = kd; w->act_strength[i] = strength;
    odeb_joint* j = &w->joints[w->act_joint[i]];
    int servo = mode == ODEB_ACT_POSITION && kd > 0;
    if (servo != j->servo) {
        // the joint's own motor row changes hands (servo <-> friction): re-declare its rows
        j->servo = servo;
        odeb_joint_apply_dynamics(w, j);
    }
    return 0;
}

int odeb_world_get_actuator(const odeb_world* w, int i, int* mode, double* kp, double* kd, double* strength) {
    if (i < 0 || i >= w->nact) return -1;
    if (mode) *mode = w->act_mode[i];
    if (kp) *kp = w->act_kp[i];
    if (kd) *kd = w->act_kd[i];
    if (strength) *strength = w->act_strength[i];
    return 0;
}

// MARK: - stepping

/// Sets a joint's own motor row: target velocity, force limit, softness.
static void odeb_joint_motor(odeb_joint* j, double vel, double fmax, double cfm) {
    if (j->type == ODEB_JOINT_HINGE) {
        dJointSetHingeParam(j->id, dParamVel, vel);
        dJointSetHingeParam(j->id, dParamFMax, fmax);
        dJointSetHingeParam(j->id, dParamCFM, cfm);
    } else if (j->type == ODEB_JOINT_SLIDER) {
        dJointSetSliderParam(j->id, dParamVel, vel);
        dJointSetSliderParam(j->id, dParamFMax, fmax);
        dJointSetSliderParam(j->id, dParamCFM, cfm);
    }
}

static int odeb_check_state(odeb_world* w) {
    const double vmax = w->params.max_linear_speed, wmax = w->params.max_angular_speed;
    for (int i = 0; i < w->nbody; i++) {
        dBodyID b = w->bodies[i];
        const dReal* p = dBodyGetPosition(b);
        const dReal* q = dBodyGetQuaternion(b);
        const dReal* v = dBodyGetLinearVel(b);
        const dReal* a = dBodyGetAngularVel(b);
        if (!odeb_finite3(p) || !odeb_finite3(q) || !isfinite(q[3]) || !odeb_finite3(v) || !odeb_finite3(a)) {
            snprintf(w->error, sizeof w->error, "body %d: non-finite state at t = %.4f s", i, w->time);
            return ODEB_STATUS_NONFINITE_STATE;
        }
        double sv = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
        double sa = a[0] * a[0] + a[1] * a[1] + a[2] * a[2];
        if (sv > vmax * vmax || sa > wmax * wmax) {
            snprintf(w->error, sizeof w->error,
                     "body %d: speed %.3g m/s, angular speed %.3g rad/s exceed the limits (%.3g, %.3g) at t = %.4f s",
                     i, sqrt(sv), sqrt(sa), vmax, wmax, w->time);
            return ODEB_STATUS_SPEED_LIMIT;
        }
    }
    return ODEB_STATUS_OK;
}

static void odeb_collide_ground(odeb_world* w) {
    dContactGeom cg[ODEB_MAX_CONTACTS];
    const odeb_world_params* p = &w->params;
    int nf = 0;
    memset(w->contact_count, 0, (size_t)w->nbody * sizeof(int));
    if (w->ngeom > 0) memset(w->geom_contact_count, 0, (size_t)w->ngeom * sizeof(int));
    if (!w->ground) { w->nfeedback = 0; return; }
    for (int g = 0; g < w->ngeom; g++) {
        // a geom whose bounding sphere is wholly above the ground plane (z = 0) cannot touch it: skip ODE's
        // collider (and its pose update). The 1 mm margin keeps every case ODE could report a contact for.
        if (dBodyGetPosition(w->bodies[w->geom_body[g]])[2] > w->geom_bound[g] + 1e-3) continue;
        int n = dCollide(w->geoms[g], w->ground, p->max_contacts, cg, sizeof(dContactGeom));
        if (n <= 0) continue;
        int body = w->geom_body[g];
        double mu = w->geom_mu[g] >= 0 ? w->geom_mu[g] : p->mu;
        for (int k = 0; k < n; k++) {
            dContact c;
            memset(&c, 0, sizeof c);
            c.surface.mode = dContactApprox1 | dContactSoftERP | dContactSoftCFM;
            c.surface.mu = mu;
            c.surface.soft_erp = p->contact_erp;
            c.surface.soft_cfm = p->contact_cfm;
            if (p->bounce > 0) {
                c.surface.mode |= dContactBounce;
                c.surface.bounce = p->bounce;
                c.surface.bounce_vel = p->bounce_velocity;
            }
            if (p->rolling_friction > 0) {
                c.surface.mode |= dContactRolling;
                c.surface.rho = p->rolling_friction;
            }
            c.geom = cg[k];
            dJointID j = dJointCreateContact(w->world, w->contact_group, &c);
            dJointAttach(j, w->bodies[body], 0);
            dJointSetFeedback(j, &w->feedback[nf]);
            w->feedback_body[nf] = body;
            nf++;
            w->contact_count[body] += 1;
        }
        w->geom_contact_count[g] = n;
    }
    w->nfeedback = nf;
}

int odeb_world_step(odeb_world* w, int substeps, const double* command, double* applied) {
    odeb_init_thread();
    if (w->broken) {
        snprintf(w->error, sizeof w->error, "world is unusable after an earlier ODE error; restore or rebuild it");
        return ODEB_STATUS_ODE_ERROR;
    }
    for (int i = 0; i < w->nact; i++) {
        if (!isfinite(command[i])) {
            snprintf(w->error, sizeof w->error, "actuator %d: non-finite command %g", i, command[i]);
            return ODEB_STATUS_NONFINITE_COMMAND;
        }
    }
    if (applied) memset(applied, 0, (size_t)w->nact * sizeof(double));

    jmp_buf jump;
    jmp_buf* volatile saved = odeb_jump;
    volatile int status = ODEB_STATUS_OK;
    odeb_rand_seed = w->seed;
    if (setjmp(jump) != 0) {
        odeb_jump = saved;
        w->broken = 1;
        dJointGroupEmpty(w->contact_group);
        snprintf(w->error, sizeof w->error, "ODE error at t = %.4f s: %s", w->time, odeb_thread_error);
        w->seed = (unsigned int)odeb_rand_seed;
        return ODEB_STATUS_ODE_ERROR;
    }
    odeb_jump = &jump;

    const double dt = w->params.dt;
    for (int s = 0; s < substeps; s++) {
        // actuators, at the physics rate. Position mode is a PD law with implicit damping: the joint's motor
        // row drives the velocity toward (kp/kd)(target − q) with softness CFM = 1/kd, so its force is
        // λ = kp (target − q) − kd q̇(t+h), bounded by the effort limit (ODE manual §3.8: a row with CFM c
        // satisfies J v' = v_target − c λ). Stiff gains on light links stay stable this way; kd = 0 falls
        // back to an explicit spring. Torque mode applies the command directly.
        for (int i = 0; i < w->nact; i++) {
            odeb_joint* j = &w->joints[w->act_joint[i]];
            double lim = w->act_limit[i], strength = w->act_strength[i];
            if (w->act_mode[i] == ODEB_ACT_POSITION && w->act_kd[i] > 0) {
                double kp = w->act_kp[i] * strength, kd = w->act_kd[i] * strength;
                double err = command[i] - j->q;
                double vel = kp / kd * err, vmax = w->act_vmax[i];
                if (vmax > 0) vel = vel > vmax ? vmax : (vel < -vmax ? -vmax : vel);
                odeb_joint_motor(j, vel, lim > 0 ? lim * strength : dInfinity, 1.0 / kd);
                w->act_err[i] = err;
            } else {
                double tau = w->act_mode[i] == ODEB_ACT_POSITION ? w->act_kp[i] * (command[i] - j->q) : command[i];
                if (lim > 0) tau = tau > lim ? lim : (tau < -lim ? -lim : tau);
                // at the velocity limit a motor cannot push further in the direction of motion
                double vmax = w->act_vmax[i], qd = odeb_joint_rate(j);
                if (vmax > 0 && fabs(qd) >= vmax && tau * qd > 0) tau = 0;
                tau *= strength;
                if (applied) applied[i] += tau / substeps;
                if (j->type == ODEB_JOINT_HINGE) dJointAddHingeTorque(j->id, tau);
                else dJointAddSliderForce(j->id, tau);
            }
        }
        // viscous joint damping; Coulomb friction as a row or an explicit torque
        for (int k = 0; k < w->njoint; k++) odeb_joint_friction_mode(w, &w->joints[k]);
        for (int k = 0; k < w->njoint; k++) {
            odeb_joint* j = &w->joints[k];
            if (j->damping <= 0) continue;
            double f = -j->damping * odeb_joint_rate(j);
            if (j->type == ODEB_JOINT_HINGE) dJointAddHingeTorque(j->id, f);
            else if (j->type == ODEB_JOINT_SLIDER) dJointAddSliderForce(j->id, f);
        }
        // ground contacts, then one QuickStep
        odeb_collide_ground(w);
        if (w->params.exact_solver) dWorldStep(w->world, dt); else dWorldQuickStep(w->world, dt);
        // contact forces of this substep (feedback f1 is the force on the robot body)
        memset(w->contact_force, 0, (size_t)w->nbody * 3 * sizeof(double));
        for (int k = 0; k < w->nfeedback; k++) {
            double* f = &w->contact_force[3 * w->feedback_body[k]];
            f[0] += w->feedback[k].f1[0]; f[1] += w->feedback[k].f1[1]; f[2] += w->feedback[k].f1[2];
        }
        dJointGroupEmpty(w->contact_group);
        w->time += dt;
        for (int k = 0; k < w->njoint; k++) odeb_joint_track(&w->joints[k]);
        // the implicit PD force that was applied: kp·err − kd·q̇(t+h), within the effort limit
        if (applied) {
            for (int i = 0; i < w->nact; i++) {
                if (w->act_mode[i] != ODEB_ACT_POSITION || !(w->act_kd[i] > 0)) continue;
                double tau = w->act_kp[i] * w->act_err[i] - w->act_kd[i] * odeb_joint_rate(&w->joints[w->act_joint[i]]);
                double lim = w->act_limit[i];
                if (lim > 0) tau = tau > lim ? lim : (tau < -lim ? -lim : tau);
                applied[i] += tau * w->act_strength[i] / substeps;
            }
        }
        status = odeb_check_state(w);
        if (status != ODEB_STATUS_OK) break;
    }
    odeb_jump = saved;
    w->seed = (unsigned int)odeb_rand_seed;
    if (status == ODEB_STATUS_NONFINITE_STATE) w->broken = 1;
    else for (int i = 0; i < w->nbody; i++) odeb_settle_quaternion(w, i);
    return status;
}

// MARK: - state access

int odeb_world_body_count(const odeb_world* w) { return w->nbody; }
int odeb_world_joint_count(const odeb_world* w) { return w->njoint; }
int odeb_world_actuator_count(const odeb_world* w) { return w->nact; }
int odeb_world_geom_count(const odeb_world* w) { return w->ngeom; }
int odeb_world_state_size(const odeb_world* w) { return 13 * w->nbody + w->njoint + 1; }
double odeb_world_time(const odeb_world* w) { return w->time; }
unsigned int odeb_world_get_seed(const odeb_world* w) { return w->seed; }
void odeb_world_set_seed(odeb_world* w, unsigned int seed) { w->seed = seed; }
const char* odeb_world_last_error(const odeb_world* w) { return w->error; }

void odeb_world_get_state(const odeb_world* w, double* out) {
    for (int i = 0; i < w->nbody; i++) {
        dBodyID b = w->bodies[i];
        const dReal* p = dBodyGetPosition(b);
        const double* q = &w->quat_in[4 * i];
        const dReal* v = dBodyGetLinearVel(b);
        const dReal* a = dBodyGetAngularVel(b);
        double* o = out + 13 * i;
        o[0] = p[0]; o[1] = p[1]; o[2] = p[2];
        o[3] = q[0]; o[4] = q[1]; o[5] = q[2]; o[6] = q[3];
        o[7] = v[0]; o[8] = v[1]; o[9] = v[2];
        o[10] = a[0]; o[11] = a[1]; o[12] = a[2];
    }
    for (int k = 0; k < w->njoint; k++) out[13 * w->nbody + k] = w->joints[k].q;
    out[13 * w->nbody + w->njoint] = w->time;
}

void odeb_world_set_state(odeb_world* w, const double* in) {
    odeb_init_thread();
    for (int i = 0; i < w->nbody; i++) {
        dBodyID b = w->bodies[i];
        const double* s = in + 13 * i;
        dBodySetPosition(b, s[0], s[1], s[2]);
        dQuaternion q = { s[3], s[4], s[5], s[6] };
        dBodySetQuaternion(b, q);
        for (int k = 0; k < 4; k++) w->quat_in[4 * i + k] = s[3 + k];
        dBodySetLinearVel(b, s[7], s[8], s[9]);
        dBodySetAngularVel(b, s[10], s[11], s[12]);
        dBodySetForce(b, 0, 0, 0);
        dBodySetTorque(b, 0, 0, 0);
    }
    // the unwrapped joint coordinates are taken as given (they must agree with the poses up to whole turns)
    for (int k = 0; k < w->njoint; k++) w->joints[k].q = in[13 * w->nbody + k];
    w->time = in[13 * w->nbody + w->njoint];
    w->broken = 0;
    w->error[0] = 0;
}

void odeb_world_get_joints(const odeb_world* w, double* q, double* qd) {
    for (int k = 0; k < w->njoint; k++) {
        if (q) q[k] = w->joints[k].q;
        if (qd) qd[k] = odeb_joint_rate(&w->joints[k]);
    }
}

void odeb_world_get_contacts(const odeb_world* w, int* counts, double* forces) {
    if (counts) memcpy(counts, w->contact_count, (size_t)w->nbody * sizeof(int));
    if (forces) memcpy(forces, w->contact_force, (size_t)w->nbody * 3 * sizeof(double));
}

void odeb_world_get_geom_contacts(const odeb_world* w, int* counts) {
    if (counts && w->ngeom > 0) memcpy(counts, w->geom_contact_count, (size_t)w->ngeom * sizeof(int));
}
