// The viewer page: HTML, CSS and a small hand-written WebGL renderer, all inline (no network access).
// `{{TITLE}}` and `{{DATA}}` are replaced by `ViewerPage.html(_:)`; the data format is `ViewerPage.json(_:)`.

enum ViewerTemplate {
    static let html = #"""
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{TITLE}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
html,body{margin:0;height:100%;overflow:hidden;background:#dfe4ea;font:13px/1.35 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232b}
canvas{display:block;width:100%;height:100%}
#hud{position:absolute;top:10px;left:10px;background:rgba(255,255,255,.86);border-radius:6px;padding:8px 10px;min-width:190px;box-shadow:0 1px 4px rgba(0,0,0,.15)}
#hud b{font-weight:600}#hud .k{color:#5b6672;display:inline-block;width:70px}
#hud .bad{color:#c0392b;font-weight:600}
#title{font-weight:600;margin-bottom:4px;max-width:320px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#bar{position:absolute;left:10px;right:10px;bottom:10px;display:flex;gap:8px;align-items:center;background:rgba(255,255,255,.86);border-radius:6px;padding:6px 10px;box-shadow:0 1px 4px rgba(0,0,0,.15)}
#bar button,#bar select{font:inherit;padding:2px 8px}
#slider{flex:1}
#help{position:absolute;top:10px;right:10px;color:#5b6672;background:rgba(255,255,255,.7);border-radius:6px;padding:4px 8px;font-size:12px}
#err{position:absolute;top:40%;left:0;right:0;text-align:center;color:#c0392b;font-weight:600}
</style></head>
<body>
<canvas id="gl"></canvas>
<div id="hud"><div id="title"></div><div id="stats"></div></div>
<div id="help">drag: orbit · shift/right-drag: pan · wheel: zoom · space: play/pause · ←/→: step · f: follow</div>
<div id="bar">
 <button id="play" title="play/pause (space)">❚❚</button>
 <select id="speed" title="playback speed"><option value="0.25">0.25×</option><option value="0.5">0.5×</option><option value="1" selected>1×</option><option value="2">2×</option><option value="4">4×</option></select>
 <input id="slider" type="range" min="0" max="0" value="0" step="1" title="time">
 <select id="episode" title="episode"></select>
 <label title="camera follows the base"><input id="follow" type="checkbox" checked> follow</label>
 <label title="base trail"><input id="trail" type="checkbox" checked> trail</label>
</div>
<div id="err"></div>
<script id="mbc-data" type="application/json">{{DATA}}</script>
<script>
"use strict";
(function(){
const D = JSON.parse(document.getElementById('mbc-data').textContent);
function f32(b64){ if(!b64) return new Float32Array(0); const s=atob(b64); const u=new Uint8Array(s.length); for(let i=0;i<s.length;i++) u[i]=s.charCodeAt(i); return new Float32Array(u.buffer); }
const NB = D.bodies.length;
const episodes = D.episodes.map(e => ({index:e.index, frames:e.frames, firstRow:e.firstRow, time:f32(e.time), poses:f32(e.poses),
  reward:f32(e.reward), cost:f32(e.cost), margin:f32(e.margin), target:f32(e.target)}));
for (const e of episodes) { // cumulative return per frame
  e.ret = new Float32Array(e.frames); let s=0; for(let i=0;i<e.reward.length;i++){ s+=e.reward[i]; e.ret[i]=s; }
}

// ---------- small matrix library (column-major 4×4, as WebGL expects) ----------
const M = {
  ident(){ const m=new Float32Array(16); m[0]=m[5]=m[10]=m[15]=1; return m; },
  mul(a,b){ const o=new Float32Array(16); for(let c=0;c<4;c++) for(let r=0;r<4;r++){ let s=0; for(let k=0;k<4;k++) s+=a[k*4+r]*b[c*4+k]; o[c*4+r]=s; } return o; },
  persp(fovy,asp,n,f){ const t=1/Math.tan(fovy/2), m=new Float32Array(16); m[0]=t/asp; m[5]=t; m[10]=(f+n)/(n-f); m[11]=-1; m[14]=2*f*n/(n-f); return m; },
  lookAt(e,c,u){ let z=[e[0]-c[0],e[1]-c[1],e[2]-c[2]]; let l=Math.hypot(...z); z=z.map(v=>v/l);
    let x=[u[1]*z[2]-u[2]*z[1],u[2]*z[0]-u[0]*z[2],u[0]*z[1]-u[1]*z[0]]; l=Math.hypot(...x); x=x.map(v=>v/l);
    const y=[z[1]*x[2]-z[2]*x[1],z[2]*x[0]-z[0]*x[2],z[0]*x[1]-z[1]*x[0]];
    const m=M.ident(); m[0]=x[0];m[4]=x[1];m[8]=x[2]; m[1]=y[0];m[5]=y[1];m[9]=y[2]; m[2]=z[0];m[6]=z[1];m[10]=z[2];
    m[12]=-(x[0]*e[0]+x[1]*e[1]+x[2]*e[2]); m[13]=-(y[0]*e[0]+y[1]*e[1]+y[2]*e[2]); m[14]=-(z[0]*e[0]+z[1]*e[1]+z[2]*e[2]); return m; },
  // rigid transform from position p and unit quaternion (w,x,y,z)
  pose(p,w,x,y,z){ const m=new Float32Array(16);
    m[0]=1-2*(y*y+z*z); m[1]=2*(x*y+w*z); m[2]=2*(x*z-w*y);
    m[4]=2*(x*y-w*z); m[5]=1-2*(x*x+z*z); m[6]=2*(y*z+w*x);
    m[8]=2*(x*z+w*y); m[9]=2*(y*z-w*x); m[10]=1-2*(x*x+y*y);
    m[12]=p[0]; m[13]=p[1]; m[14]=p[2]; m[15]=1; return m; },
  scale(m,sx,sy,sz){ const o=new Float32Array(m); for(let i=0;i<3;i++){ o[i]*=sx; o[4+i]*=sy; o[8+i]*=sz; } return o; },
  translate(m,x,y,z){ const o=new Float32Array(m); for(let i=0;i<3;i++) o[12+i]+=m[i]*x+m[4+i]*y+m[8+i]*z; return o; }
};

// ---------- WebGL setup ----------
// options from the address: #t=2.5&episode=1&paused&speed=2&yaw=..&pitch=..&dist=..&aa=0|1&bench
const opts={}; for(const kv of location.hash.slice(1).split('&')){ if(!kv) continue; const [k,v]=kv.split('='); opts[decodeURIComponent(k)]=v===undefined?true:decodeURIComponent(v); }
// multisampling costs a software renderer (SwiftShader, llvmpipe) about 3× per frame: off there unless #aa=1
function rendererName(){ const c=document.createElement('canvas'), g=c.getContext('webgl'); if(!g) return '';
  const ext=g.getExtension('WEBGL_debug_renderer_info'); const r=String(ext?g.getParameter(ext.UNMASKED_RENDERER_WEBGL):g.getParameter(g.RENDERER));
  const lose=g.getExtension('WEBGL_lose_context'); if(lose) lose.loseContext(); return r; }
const renderer=rendererName(), software=/swiftshader|llvmpipe|softpipe|software/i.test(renderer);
const canvas = document.getElementById('gl');
const gl = canvas.getContext('webgl', {antialias: opts.aa!==undefined ? opts.aa!=='0' : !software, preserveDrawingBuffer:true});
if (!gl) { document.getElementById('err').textContent = 'WebGL is not available in this browser.'; return; }
function shader(type, src){ const s=gl.createShader(type); gl.shaderSource(s,src); gl.compileShader(s);
  if(!gl.getShaderParameter(s,gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s)); return s; }
function program(vs, fs){ const p=gl.createProgram(); gl.attachShader(p,shader(gl.VERTEX_SHADER,vs)); gl.attachShader(p,shader(gl.FRAGMENT_SHADER,fs)); gl.linkProgram(p);
  if(!gl.getProgramParameter(p,gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p)); return p; }
const lit = program(
 `attribute vec3 pos; attribute vec3 nrm; uniform mat4 vp, model; varying vec3 n; varying vec3 w;
  void main(){ vec4 p = model*vec4(pos,1.0); w=p.xyz; n = mat3(model)*nrm; gl_Position = vp*p; }`,
 `precision mediump float; varying vec3 n; varying vec3 w; uniform vec4 color; uniform vec3 eye;
  void main(){ vec3 N=normalize(n); vec3 L=normalize(vec3(0.35,0.25,0.9)); vec3 V=normalize(eye-w);
   float d=max(dot(N,L),0.0); float hemi=0.5+0.5*N.z; float sp=pow(max(dot(reflect(-L,N),V),0.0),24.0);
   vec3 c=color.rgb*(0.28+0.22*hemi+0.62*d)+vec3(0.18*sp); gl_FragColor=vec4(c,color.a); }`);
const flat = program(
 `attribute vec3 pos; uniform mat4 vp, model; void main(){ gl_Position = vp*model*vec4(pos,1.0); }`,
 `precision mediump float; uniform vec4 color; void main(){ gl_FragColor=color; }`);
const litLoc = {pos:gl.getAttribLocation(lit,'pos'), nrm:gl.getAttribLocation(lit,'nrm'), vp:gl.getUniformLocation(lit,'vp'),
  model:gl.getUniformLocation(lit,'model'), color:gl.getUniformLocation(lit,'color'), eye:gl.getUniformLocation(lit,'eye')};
const flatLoc = {pos:gl.getAttribLocation(flat,'pos'), vp:gl.getUniformLocation(flat,'vp'), model:gl.getUniformLocation(flat,'model'), color:gl.getUniformLocation(flat,'color')};

function mesh(pos, nrm, idx){ const m={n:idx.length};
  m.p=gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER,m.p); gl.bufferData(gl.ARRAY_BUFFER,new Float32Array(pos),gl.STATIC_DRAW);
  m.q=gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER,m.q); gl.bufferData(gl.ARRAY_BUFFER,new Float32Array(nrm),gl.STATIC_DRAW);
  m.i=gl.createBuffer(); gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER,m.i); gl.bufferData(gl.ELEMENT_ARRAY_BUFFER,new Uint16Array(idx),gl.STATIC_DRAW); return m; }
function boxMesh(){ const P=[],N=[],I=[];
  const faces=[[0,1],[0,-1],[1,1],[1,-1],[2,1],[2,-1]];
  for(const [a,s] of faces){ const b=(a+1)%3,c=(a+2)%3, base=P.length/3;
    for(const [u,v] of [[-1,-1],[1,-1],[1,1],[-1,1]]){ const p=[0,0,0]; p[a]=0.5*s; p[b]=0.5*u*s; p[c]=0.5*v; P.push(...p); const n=[0,0,0]; n[a]=s; N.push(...n); }
    if(s>0) I.push(base,base+1,base+2,base,base+2,base+3); else I.push(base,base+2,base+1,base,base+3,base+2); }
  return mesh(P,N,I); }
function sphereMesh(nl=14,nm=24){ const P=[],N=[],I=[];
  for(let i=0;i<=nl;i++){ const th=Math.PI*i/nl; for(let j=0;j<=nm;j++){ const ph=2*Math.PI*j/nm;
    const x=Math.sin(th)*Math.cos(ph), y=Math.sin(th)*Math.sin(ph), z=Math.cos(th); P.push(x,y,z); N.push(x,y,z); } }
  for(let i=0;i<nl;i++) for(let j=0;j<nm;j++){ const a=i*(nm+1)+j, b=a+nm+1; I.push(a,b,a+1,a+1,b,b+1); }
  return mesh(P,N,I); }
function cylinderMesh(nm=24){ const P=[],N=[],I=[];
  for(let j=0;j<=nm;j++){ const ph=2*Math.PI*j/nm, x=Math.cos(ph), y=Math.sin(ph); P.push(x,y,-0.5, x,y,0.5); N.push(x,y,0, x,y,0); }
  for(let j=0;j<nm;j++){ const a=2*j; I.push(a,a+2,a+1,a+1,a+2,a+3); }
  for(const s of [-1,1]){ const c=P.length/3; P.push(0,0,0.5*s); N.push(0,0,s);
    for(let j=0;j<=nm;j++){ const ph=2*Math.PI*j/nm; P.push(Math.cos(ph),Math.sin(ph),0.5*s); N.push(0,0,s); }
    for(let j=0;j<nm;j++){ if(s>0) I.push(c,c+1+j,c+2+j); else I.push(c,c+2+j,c+1+j); } }
  return mesh(P,N,I); }
function discMesh(nm=32){ const P=[0,0,0],N=[0,0,1],I=[]; for(let j=0;j<=nm;j++){ const ph=2*Math.PI*j/nm; P.push(Math.cos(ph),Math.sin(ph),0); N.push(0,0,1); }
  for(let j=0;j<nm;j++) I.push(0,1+j,2+j); return mesh(P,N,I); }
const BOX=boxMesh(), SPHERE=sphereMesh(), CYL=cylinderMesh(), DISC=discMesh();

// ground quad and grid lines
const groundBuf=gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER,groundBuf);
gl.bufferData(gl.ARRAY_BUFFER,new Float32Array([-1,-1,0, 1,-1,0, 1,1,0, -1,-1,0, 1,1,0, -1,1,0]),gl.STATIC_DRAW);
function gridBuffer(half, step, skip){ const v=[]; for(let k=-half;k<=half+1e-9;k+=step){ if(skip && Math.abs(k/skip-Math.round(k/skip))<1e-6) continue; 
    // short segments: some rasterizers drop a whole line whose end lies behind the camera
    for(let a=-half;a<half-1e-9;a+=1){ v.push(k,a,0.0008, k,a+1,0.0008, a,k,0.0008, a+1,k,0.0008); } }
  const b=gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER,b); gl.bufferData(gl.ARRAY_BUFFER,new Float32Array(v),gl.STATIC_DRAW); return {b, n:v.length/3}; }
const GRID_HALF=30, gridMinor=gridBuffer(GRID_HALF,0.25,1), gridMajor=gridBuffer(GRID_HALF,1,0);
const trailBuf=gl.createBuffer();

// ---------- scene state ----------
const shapes = D.shapes;
const st = {ep:0, t:0, frame:0, playing:true, speed:1, follow:D.floating, trail:true,
  cam:{yaw:-0.9, pitch:0.42, dist:1.8, center:[0,0,0.3]}, fps:0, drawn:0};
function ep(){ return episodes[st.ep]; }
function bodyPose(e,f,b){ const o=(f*NB+b)*7, p=e.poses; return [p[o],p[o+1],p[o+2],p[o+3],p[o+4],p[o+5],p[o+6]]; }
function frameAt(e,t){ let lo=0, hi=e.frames-1; if(t<=e.time[0]) return 0; while(lo<hi){ const mid=(lo+hi+1)>>1; if(e.time[mid]<=t) lo=mid; else hi=mid-1; } return lo; }
function setEpisode(i){ st.ep=i; const e=ep(); st.t=e.time[0]; st.frame=0; slider.max=e.frames-1; slider.value=0;
  const tr=new Float32Array(e.frames*3); for(let f=0;f<e.frames;f++){ const p=bodyPose(e,f,0); tr[3*f]=p[0]; tr[3*f+1]=p[1]; tr[3*f+2]=0.003; }
  gl.bindBuffer(gl.ARRAY_BUFFER,trailBuf); gl.bufferData(gl.ARRAY_BUFFER,tr,gl.STATIC_DRAW);
  fitCamera(); }
function fitCamera(){ const e=ep(); let lo=[1e9,1e9,1e9], hi=[-1e9,-1e9,-1e9];
  for(let b=0;b<NB;b++){ const p=bodyPose(e,0,b); for(let k=0;k<3;k++){ lo[k]=Math.min(lo[k],p[k]); hi[k]=Math.max(hi[k],p[k]); } }
  const size=Math.max(0.3, Math.hypot(hi[0]-lo[0],hi[1]-lo[1],hi[2]-lo[2]));
  st.cam.dist=Math.max(1.2, 2.6*size); st.cam.center=[(lo[0]+hi[0])/2,(lo[1]+hi[1])/2,Math.max(0.1,(lo[2]+hi[2])/2)]; }

// ---------- controls ----------
const slider=document.getElementById('slider'), playBtn=document.getElementById('play'), epSel=document.getElementById('episode');
episodes.forEach((e,i)=>{ const o=document.createElement('option'); o.value=i; o.textContent='episode '+e.index+' ('+(e.time[e.frames-1]-e.time[0]).toFixed(1)+' s)'; epSel.appendChild(o); });
if (episodes.length<2) epSel.style.display='none';
epSel.onchange=()=>setEpisode(+epSel.value);
function setPlaying(p){ st.playing=p; playBtn.textContent=p?'❚❚':'▶'; }
playBtn.onclick=()=>setPlaying(!st.playing);
document.getElementById('speed').onchange=ev=>{ st.speed=+ev.target.value; };
slider.oninput=()=>{ const e=ep(); st.frame=+slider.value; st.t=e.time[st.frame]; };
const followBox=document.getElementById('follow'), trailBox=document.getElementById('trail');
followBox.checked=st.follow; followBox.onchange=()=>{ st.follow=followBox.checked; };
trailBox.onchange=()=>{ st.trail=trailBox.checked; };
if(!D.floating){ trailBox.parentNode.style.display='none'; followBox.parentNode.style.display='none'; }
function step(d){ const e=ep(); setPlaying(false); st.frame=Math.max(0,Math.min(e.frames-1,st.frame+d)); st.t=e.time[st.frame]; }
window.addEventListener('keydown',ev=>{ if(ev.target.tagName==='SELECT') return;
  if(ev.key===' '){ setPlaying(!st.playing); ev.preventDefault(); } else if(ev.key==='ArrowRight') step(1); else if(ev.key==='ArrowLeft') step(-1);
  else if(ev.key==='f'){ st.follow=!st.follow; followBox.checked=st.follow; } });
let drag=null;
canvas.addEventListener('contextmenu',ev=>ev.preventDefault());
canvas.addEventListener('mousedown',ev=>{ drag={x:ev.clientX,y:ev.clientY,pan:ev.button!==0||ev.shiftKey}; });
window.addEventListener('mouseup',()=>{ drag=null; });
window.addEventListener('mousemove',ev=>{ if(!drag) return; const dx=ev.clientX-drag.x, dy=ev.clientY-drag.y; drag.x=ev.clientX; drag.y=ev.clientY; const c=st.cam;
  if(drag.pan){ const s=c.dist*0.0016; const cy=Math.cos(c.yaw), sy=Math.sin(c.yaw);
    c.center[0]+= s*(dx*sy + dy*cy*Math.sin(c.pitch)); c.center[1]+= s*(-dx*cy + dy*sy*Math.sin(c.pitch)); c.center[2]+= s*dy*Math.cos(c.pitch);
    if(st.follow){ st.follow=false; followBox.checked=false; } }
  else { c.yaw-=dx*0.006; c.pitch=Math.max(-0.2,Math.min(1.5,c.pitch+dy*0.006)); } });
canvas.addEventListener('wheel',ev=>{ st.cam.dist=Math.max(0.2,Math.min(100,st.cam.dist*Math.exp(ev.deltaY*0.0012))); ev.preventDefault(); },{passive:false});

setEpisode(Math.max(0,Math.min(episodes.length-1, opts.episode? +opts.episode : 0)));
epSel.value=st.ep;
if(opts.t!==undefined){ const e=ep(); st.t=e.time[0]+(+opts.t); st.frame=frameAt(e,st.t); }
if(opts.paused) setPlaying(false);
if(opts.speed) st.speed=+opts.speed;
for(const k of ['yaw','pitch','dist']) if(opts[k]!==undefined) st.cam[k]=+opts[k];

// ---------- drawing ----------
function bindMesh(m, loc){ gl.bindBuffer(gl.ARRAY_BUFFER,m.p); gl.enableVertexAttribArray(loc.pos); gl.vertexAttribPointer(loc.pos,3,gl.FLOAT,false,0,0);
  if(loc.nrm!==undefined){ gl.bindBuffer(gl.ARRAY_BUFFER,m.q); gl.enableVertexAttribArray(loc.nrm); gl.vertexAttribPointer(loc.nrm,3,gl.FLOAT,false,0,0); }
  gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER,m.i); }
function drawLit(m, model, rgba){ bindMesh(m, litLoc); gl.uniformMatrix4fv(litLoc.model,false,model); gl.uniform4fv(litLoc.color,rgba); gl.drawElements(gl.TRIANGLES,m.n,gl.UNSIGNED_SHORT,0); }
function drawFlat(m, model, rgba){ gl.bindBuffer(gl.ARRAY_BUFFER,m.p); gl.enableVertexAttribArray(flatLoc.pos); gl.vertexAttribPointer(flatLoc.pos,3,gl.FLOAT,false,0,0);
  gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER,m.i); gl.uniformMatrix4fv(flatLoc.model,false,model); gl.uniform4fv(flatLoc.color,rgba); gl.drawElements(gl.TRIANGLES,m.n,gl.UNSIGNED_SHORT,0); }
function drawLines(buf, n, mode, rgba){ gl.bindBuffer(gl.ARRAY_BUFFER,buf); gl.enableVertexAttribArray(flatLoc.pos); gl.vertexAttribPointer(flatLoc.pos,3,gl.FLOAT,false,0,0);
  gl.uniformMatrix4fv(flatLoc.model,false,M.ident()); gl.uniform4fv(flatLoc.color,rgba); gl.drawArrays(mode,0,n); }

// world matrices of every shape at a frame, with the lowest point and horizontal radius for shadows
function shapeMatrices(e,f){ const body=[]; for(let b=0;b<NB;b++){ const p=bodyPose(e,f,b); body.push(M.pose(p,p[3],p[4],p[5],p[6])); }
  const out=[]; for(const s of shapes){ const sp=s.pose; const W=M.mul(body[s.body], M.pose(sp,sp[3],sp[4],sp[5],sp[6]));
    const c=[W[12],W[13],W[14]]; let low, rad;
    const ax=[W[8],W[9],W[10]];
    if(s.type==='box'){ const h=[s.size[0]/2,s.size[1]/2,s.size[2]/2]; low=c[2]-(Math.abs(W[2])*h[0]+Math.abs(W[6])*h[1]+Math.abs(W[10])*h[2]); rad=0.5*Math.hypot(h[0]+h[1],Math.min(h[0],h[1])+h[2])*1.2; }
    else if(s.type==='sphere'){ low=c[2]-s.size[0]; rad=s.size[0]; }
    else { const r=s.size[0], l=s.size[1]; const caps=s.type==='capsule'?r:0; low=c[2]-Math.abs(ax[2])*l/2-(s.type==='capsule'?r:r*Math.sqrt(Math.max(0,1-ax[2]*ax[2]))); rad=r+Math.hypot(ax[0],ax[1])*l/2*0.8+caps*0; }
    out.push({W,c,low,rad,ax}); }
  return out; }

function resize(){ const dpr=window.devicePixelRatio||1; const w=Math.round(canvas.clientWidth*dpr), h=Math.round(canvas.clientHeight*dpr);
  if(canvas.width!==w||canvas.height!==h){ canvas.width=w; canvas.height=h; } gl.viewport(0,0,canvas.width,canvas.height); }

const hud=document.getElementById('stats'); document.getElementById('title').textContent=D.title; document.title=D.title;
function fmt(x,d){ return (x>=0?'\u2007':'')+x.toFixed(d); }
function updateHud(e,f){ const rows=[]; const row=(k,v,cls)=>rows.push('<span class="k">'+k+'</span><b'+(cls?' class="'+cls+'"':'')+'>'+v+'</b>');
  row('time',(e.time[f]-e.time[0]).toFixed(2)+' s  / '+(e.time[e.frames-1]-e.time[0]).toFixed(2));
  row('episode',e.index+(episodes.length>1?' ('+(st.ep+1)+' of '+episodes.length+')':''));
  row('frame',(f+1)+' of '+e.frames+(D.stride>1?' (every '+D.stride+'th row)':''));
  if(e.reward.length){ row('reward',fmt(e.reward[f],3)); row('return',fmt(e.ret[f],2)); }
  if(e.cost.length) row('cost',fmt(e.cost[f],3), e.cost[f]>0?'bad':'');
  if(e.margin.length) row('margin',fmt(e.margin[f],3)+' rad', e.margin[f]<0?'bad':'');
  if(D.floating){ const p=bodyPose(e,f,0); row('base',p[0].toFixed(2)+', '+p[1].toFixed(2)+', '+p[2].toFixed(2)+' m'); }
  if(e.target.length){ const d=e.target; row('target',d[3*f].toFixed(2)+', '+d[3*f+1].toFixed(2)+', '+d[3*f+2].toFixed(2)+' m'); }
  if(st.playing) row('fps',st.fps.toFixed(0));
  hud.innerHTML=rows.join('<br>'); }

let last=performance.now(), hudFrame=-1, hudTick=0;
function render(now){
  const dt=Math.min(0.1,(now-last)/1000); last=now; if(dt>0) st.fps=st.fps?0.95*st.fps+0.05/dt:1/dt;
  const e=ep();
  if(st.playing){ st.t+=dt*st.speed; if(st.t>e.time[e.frames-1]) st.t=e.time[0]; st.frame=frameAt(e,st.t); }
  draw();
  requestAnimationFrame(render);
}
function draw(){
  const e=ep();
  const f=st.frame; if(+slider.value!==f) slider.value=f;
  resize();
  const c=st.cam; if(st.follow){ const p=bodyPose(e,f,0); c.center[0]=p[0]; c.center[1]=p[1]; c.center[2]=Math.max(0.1,p[2]); }
  const eye=[c.center[0]+c.dist*Math.cos(c.pitch)*Math.cos(c.yaw), c.center[1]+c.dist*Math.cos(c.pitch)*Math.sin(c.yaw), c.center[2]+c.dist*Math.sin(c.pitch)];
  const vp=M.mul(M.persp(0.8,canvas.width/Math.max(1,canvas.height),0.02,200), M.lookAt(eye,c.center,[0,0,1]));
  gl.clearColor(0.875,0.894,0.918,1); gl.clear(gl.COLOR_BUFFER_BIT|gl.DEPTH_BUFFER_BIT);
  gl.enable(gl.DEPTH_TEST); gl.enable(gl.CULL_FACE);
  const S=shapeMatrices(e,f);
  // ground, grid
  gl.useProgram(flat); gl.uniformMatrix4fv(flatLoc.vp,false,vp);
  gl.bindBuffer(gl.ARRAY_BUFFER,groundBuf); gl.enableVertexAttribArray(flatLoc.pos); gl.vertexAttribPointer(flatLoc.pos,3,gl.FLOAT,false,0,0);
  gl.uniformMatrix4fv(flatLoc.model,false,M.scale(M.ident(),GRID_HALF,GRID_HALF,1)); gl.uniform4fv(flatLoc.color,[0.80,0.82,0.84,1]); gl.drawArrays(gl.TRIANGLES,0,6);
  gl.depthMask(false); gl.enable(gl.BLEND); gl.blendFunc(gl.SRC_ALPHA,gl.ONE_MINUS_SRC_ALPHA);
  drawLines(gridMinor.b,gridMinor.n,gl.LINES,[0.45,0.48,0.52,0.45]);
  drawLines(gridMajor.b,gridMajor.n,gl.LINES,[0.25,0.28,0.32,0.7]);
  // blob shadows and contact shading
  for(const s of S){ const h=Math.max(0,s.low); const a=0.22*Math.max(0,1-h/0.6); if(a<=0.01) continue;
    const r=s.rad*(0.8+h*0.6); drawFlat(DISC, M.scale(M.translate(M.ident(),s.c[0],s.c[1],0.001),r,r,1),[0.1,0.12,0.15,a]); }
  for(const s of S){ if(s.low<0.012){ const r=Math.max(0.012,s.rad*0.75); drawFlat(DISC, M.scale(M.translate(M.ident(),s.c[0],s.c[1],0.002),r,r,1),[0.93,0.45,0.1,0.75]); } }
  if(D.floating && st.trail && f>0) drawLines(trailBuf,f+1,gl.LINE_STRIP,[0.15,0.35,0.85,0.9]);
  gl.depthMask(true); gl.disable(gl.BLEND);
  // robot
  gl.useProgram(lit); gl.uniformMatrix4fv(litLoc.vp,false,vp); gl.uniform3fv(litLoc.eye,eye);
  shapes.forEach((sh,i)=>{ const W=S[i].W, z=sh.size; const col=sh.rgba;
    if(col[3]<1){ gl.enable(gl.BLEND); gl.blendFunc(gl.SRC_ALPHA,gl.ONE_MINUS_SRC_ALPHA); }
    if(sh.type==='box') drawLit(BOX, M.scale(W,z[0],z[1],z[2]), col);
    else if(sh.type==='sphere') drawLit(SPHERE, M.scale(W,z[0],z[0],z[0]), col);
    else { drawLit(CYL, M.scale(W,z[0],z[0],z[1]), col);
      if(sh.type==='capsule'){ drawLit(SPHERE, M.scale(M.translate(W,0,0,z[1]/2),z[0],z[0],z[0]), col); drawLit(SPHERE, M.scale(M.translate(W,0,0,-z[1]/2),z[0],z[0],z[0]), col); } }
    if(col[3]<1) gl.disable(gl.BLEND); });
  // target
  if(e.target.length){ const T=e.target; const W=M.translate(M.ident(),T[3*f],T[3*f+1],T[3*f+2]);
    drawLit(SPHERE, M.scale(W,0.025,0.025,0.025), [0.85,0.1,0.15,1]);
    gl.useProgram(flat); gl.uniformMatrix4fv(flatLoc.vp,false,vp); gl.enable(gl.BLEND); gl.depthMask(false);
    drawFlat(DISC, M.scale(M.translate(M.ident(),T[3*f],T[3*f+1],0.0015),0.03,0.03,1),[0.85,0.1,0.15,0.35]); gl.depthMask(true); gl.disable(gl.BLEND); }
  if(f!==hudFrame || (++hudTick%15)===0){ updateHud(e,f); hudFrame=f; }
  st.drawn++;
}
// #bench: draw 300 frames spread over the episode, each waited for (gl.readPixels), and write the
// rate into the page (<div id="bench">), for the browser test; the page then plays as usual
if(opts.bench!==undefined){ const e=ep(), n=300, px=new Uint8Array(4); st.playing=false; draw(); gl.readPixels(0,0,1,1,gl.RGBA,gl.UNSIGNED_BYTE,px);
  const t0=performance.now(); for(let i=0;i<n;i++){ st.frame=Math.floor(i*(e.frames-1)/(n-1)); draw(); gl.readPixels(0,0,1,1,gl.RGBA,gl.UNSIGNED_BYTE,px); }
  const ms=(performance.now()-t0)/n; const d=document.createElement('div'); d.id='bench';
  d.textContent='fps='+(1000/ms).toFixed(1)+' ms='+ms.toFixed(2)+' frames='+e.frames+' bodies='+NB+' size='+canvas.width+'x'+canvas.height+' antialias='+gl.getContextAttributes().antialias+' renderer='+renderer; document.body.appendChild(d); st.frame=0; st.playing=true; }
window.mbcViewer={data:D, episodes, state:st, frameAt};
requestAnimationFrame(render);
})();
</script>
</body></html>
"""#
}
